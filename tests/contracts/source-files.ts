/**
 * The TypeScript sources of the project's parts, parsed with the TypeScript compiler API, for the tests that check
 * what crosses the boundaries between them (contracts/README in docs/contracts.md).
 */
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import { PROJECT_DIR } from "../../contracts/project";

/** The parts whose joins the contracts module serves. */
export const PARTS = ["contracts", "infra", "steps", "lambdas", "pipeline", "scripts"] as const;
export type Part = (typeof PARTS)[number];

/** Repository-relative paths (forward slashes) of every `.ts` file under `dir`, sorted. */
export function tsFiles(dir: string, root = PROJECT_DIR): string[] {
    const out: string[] = [];
    const walk = (rel: string) => {
        for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
            const child = `${rel}/${entry.name}`;
            if (entry.isDirectory()) {
                if (entry.name !== "node_modules") walk(child);
            } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
                out.push(child);
            }
        }
    };
    if (fs.existsSync(path.join(root, dir))) walk(dir);
    return out.sort();
}

export function parse(file: string, text: string): ts.SourceFile {
    return ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
}

export interface ModuleReference {
    readonly specifier: string;
    readonly line: number;
    /** Only a type is imported (`import type`, `import("x").T`): nothing of the module is loaded at run time. */
    readonly typeOnly: boolean;
}

/**
 * Every module a file refers to: import and export-from declarations, `import x = require()`, `require()` and
 * `import()` calls, and `import("x")` types.
 */
export function moduleReferences(source: ts.SourceFile): ModuleReference[] {
    const refs: ModuleReference[] = [];
    const add = (node: ts.Node, literal: ts.Expression | undefined, typeOnly: boolean) => {
        if (literal && ts.isStringLiteralLike(literal)) {
            refs.push({ specifier: literal.text, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, typeOnly });
        }
    };
    const visit = (node: ts.Node) => {
        if (ts.isImportDeclaration(node)) {
            add(node, node.moduleSpecifier, node.importClause?.isTypeOnly ?? false);
        } else if (ts.isExportDeclaration(node)) {
            add(node, node.moduleSpecifier, node.isTypeOnly);
        } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
            add(node, node.moduleReference.expression, node.isTypeOnly);
        } else if (ts.isCallExpression(node) && node.arguments.length >= 1 &&
            (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === "require"))) {
            add(node, node.arguments[0], false);
        } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
            add(node, node.argument.literal, true);
        }
        ts.forEachChild(node, visit);
    };
    visit(source);
    return refs;
}
