import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { StackContext } from "../lib/context";
import { policyDocument, PolicyStatement } from "../lib/policy";

/** The SageMaker model package group every trained version of one model is registered in. */
export interface ModelRegistryArgs {
    readonly context: StackContext;
    /** The model's short name (config `modelName`), part of the group's physical name. */
    readonly modelName: string;
    /**
     * Description shown in the SageMaker console.
     * @default "<modelName> versions trained by the <project>-<environment> pipeline; approved versions may serve"
     */
    readonly description?: string;
    /**
     * Statements of the group's resource policy, given the group's ARN (the host's grants to consuming environments
     * in other accounts); no policy when there are none.
     * @default none
     */
    readonly resourcePolicyStatements?: (groupArn: pulumi.Output<string>) => PolicyStatement[];
}

export class ModelRegistry extends pulumi.ComponentResource {
    readonly group: aws.sagemaker.ModelPackageGroup;
    /** The group's name (`ModelPackageGroupName` in the SageMaker API). */
    readonly groupName: pulumi.Output<string>;
    readonly groupArn: pulumi.Output<string>;

    constructor(name: string, args: ModelRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:registry:ModelRegistry", name, args, opts);
        const parent = this;
        const { context } = args;

        if (!/^[a-z][a-z0-9-]*$/.test(args.modelName)) {
            throw new pulumi.ResourceError(
                `ModelRegistry ${name}: modelName ${JSON.stringify(args.modelName)} is invalid; ` +
                "expected lowercase letters, digits or '-', starting with a letter", parent);
        }

        this.group = createGroup();
        this.groupName = this.group.modelPackageGroupName;
        this.groupArn = this.group.arn;

        const policyStatements = args.resourcePolicyStatements?.(this.groupArn) ?? [];
        if (policyStatements.length > 0) createGroupPolicy(policyStatements);

        this.registerOutputs({ groupName: this.groupName, groupArn: this.groupArn });

        function createGroupPolicy(statements: PolicyStatement[]) {
            // aws.sagemaker.ModelPackageGroupPolicy = PutModelPackageGroupPolicy (policy up to 20,480 characters).
            return new aws.sagemaker.ModelPackageGroupPolicy(`${name}-policy`, {
                modelPackageGroupName: parent.groupName,
                resourcePolicy: policyDocument(statements),
            }, { parent });
        }

        function createGroup() {
            return new aws.sagemaker.ModelPackageGroup(`${name}-group`, {
                modelPackageGroupName: context.namer.name("sagemaker", args.modelName),
                modelPackageGroupDescription: args.description ??
                    `${args.modelName} versions trained by the ${context.namer.project}-${context.environment} ` +
                    "pipeline; approved versions may serve",
            }, { parent, protect: context.protectData });
        }
    }
}
