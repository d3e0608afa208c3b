/**
 * The local prod endpoint's data capture: an HTTP proxy in front of `model-container/bin/serve` that records
 * sampled request/response pairs exactly as SageMaker data capture does (docs/contracts.md §5):
 * `<root>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mss>-<uuid>.jsonl`, one JSON object per line.
 */
import { randomUUID } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { SERVING_VARIANT } from "../../contracts/serving";

export interface CaptureProxyOptions {
    /** The model server, e.g. http://127.0.0.1:8080. */
    readonly upstream: string;
    readonly captureRoot: string;
    readonly endpointName: string;
    /** @default SERVING_VARIANT */
    readonly variantName?: string;
    /** @default 100 */
    readonly samplingPercentage?: number;
    /** @default ["text/csv"] */
    readonly csvContentTypes?: readonly string[];
    /** @default ["application/json"] */
    readonly jsonContentTypes?: readonly string[];
    /** Injected for tests. @default () => new Date() */
    readonly now?: () => Date;
    /**
     * The sampling draw in [0, 1) for a request (given its body): captured when below the percentage.
     * @default Math.random
     */
    readonly random?: (requestBody: Buffer) => number;
}

export interface CaptureRecord {
    captureData: {
        endpointInput: CapturedPayload;
        endpointOutput: CapturedPayload;
    };
    eventMetadata: { eventId: string; inferenceTime: string };
    eventVersion: "0";
}

interface CapturedPayload {
    observedContentType: string;
    mode: "INPUT" | "OUTPUT";
    data: string;
    encoding: "CSV" | "JSON" | "BASE64";
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** The hourly folder SageMaker writes a capture file into (UTC). */
export function captureFolder(root: string, endpoint: string, variant: string, at: Date): string {
    return path.join(root, endpoint, variant, String(at.getUTCFullYear()), pad(at.getUTCMonth() + 1),
        pad(at.getUTCDate()), pad(at.getUTCHours()));
}

function payload(body: Buffer, contentType: string, mode: CapturedPayload["mode"], csv: readonly string[], json: readonly string[]): CapturedPayload {
    const base = contentType.split(";")[0].trim().toLowerCase();
    if (csv.includes(base)) return { observedContentType: contentType, mode, data: body.toString("utf8"), encoding: "CSV" };
    if (json.includes(base)) return { observedContentType: contentType, mode, data: body.toString("utf8"), encoding: "JSON" };
    return { observedContentType: contentType, mode, data: body.toString("base64"), encoding: "BASE64" };
}

/** One capture line for a request/response pair. */
export function captureRecord(
    request: { body: Buffer; contentType: string },
    response: { body: Buffer; contentType: string },
    options: { csvContentTypes: readonly string[]; jsonContentTypes: readonly string[]; at: Date; eventId?: string },
): CaptureRecord {
    return {
        captureData: {
            endpointInput: payload(request.body, request.contentType, "INPUT", options.csvContentTypes, options.jsonContentTypes),
            endpointOutput: payload(response.body, response.contentType, "OUTPUT", options.csvContentTypes, options.jsonContentTypes),
        },
        eventMetadata: { eventId: options.eventId ?? randomUUID(), inferenceTime: options.at.toISOString() },
        eventVersion: "0",
    };
}

export class CaptureProxy {
    readonly server: http.Server;
    private currentFile?: { folder: string; file: string };
    private upstream: string;
    captured = 0;
    forwarded = 0;

    constructor(private readonly options: CaptureProxyOptions) {
        this.upstream = options.upstream;
        this.server = http.createServer((req, res) => void this.handle(req, res));
        // Keep-alive connections from load generators must not hold the proxy open at shutdown.
        this.server.keepAliveTimeout = 1000;
    }

    /** Moves traffic to another model server (blue/green: the new one is healthy before this is called). */
    setUpstream(url: string): void {
        this.upstream = url;
    }

    listen(port: number, host = "127.0.0.1"): Promise<void> {
        return new Promise((resolve, reject) => {
            this.server.once("error", reject);
            this.server.listen(port, host, () => resolve());
        });
    }

    close(): Promise<void> {
        this.server.closeAllConnections();
        return new Promise((resolve) => this.server.close(() => resolve()));
    }

    private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const body = Buffer.concat(chunks);
        let upstream: Response;
        try {
            upstream = await fetch(new URL(req.url ?? "/", this.upstream), {
                method: req.method,
                headers: Object.fromEntries(Object.entries(req.headers)
                    .filter(([k, v]) => typeof v === "string" && !["host", "connection", "content-length"].includes(k)) as [string, string][]),
                body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
            });
        } catch (err) {
            res.writeHead(502, { "content-type": "application/json" });
            res.end(JSON.stringify({ error: "model server unreachable", detail: (err as Error).message }));
            return;
        }
        const responseBody = Buffer.from(await upstream.arrayBuffer());
        const contentType = upstream.headers.get("content-type") ?? "application/octet-stream";
        res.writeHead(upstream.status, { "content-type": contentType });
        res.end(responseBody);
        this.forwarded++;
        // SageMaker captures successful invocations only.
        if (req.method === "POST" && req.url?.startsWith("/invocations") && upstream.ok && this.sampled(body)) {
            this.write(captureRecord(
                { body, contentType: req.headers["content-type"] ?? "application/octet-stream" },
                { body: responseBody, contentType },
                {
                    csvContentTypes: this.options.csvContentTypes ?? ["text/csv"],
                    jsonContentTypes: this.options.jsonContentTypes ?? ["application/json"],
                    at: (this.options.now ?? (() => new Date()))(),
                },
            ));
        }
    }

    private sampled(body: Buffer): boolean {
        const percentage = this.options.samplingPercentage ?? 100;
        return (this.options.random ?? Math.random)(body) * 100 < percentage;
    }

    private write(record: CaptureRecord): void {
        const at = new Date(record.eventMetadata.inferenceTime);
        const folder = captureFolder(this.options.captureRoot, this.options.endpointName, this.options.variantName ?? SERVING_VARIANT, at);
        if (this.currentFile?.folder !== folder) {
            fs.mkdirSync(folder, { recursive: true });
            const name = `${pad(at.getUTCMinutes())}-${pad(at.getUTCSeconds())}-${pad(at.getUTCMilliseconds(), 3)}-${randomUUID()}.jsonl`;
            this.currentFile = { folder, file: path.join(folder, name) };
        }
        fs.appendFileSync(this.currentFile.file, `${JSON.stringify(record)}\n`);
        this.captured++;
    }
}
