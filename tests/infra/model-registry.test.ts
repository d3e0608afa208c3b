import { strict as assert } from "assert";
import { ModelRegistry } from "../../infra/components/model-registry";
import { evaluate } from "../harness/pulumi-harness";
import { testBed } from "../harness/fixtures";

for (const stack of ["platform", "dev"]) {
    describe(`stack ${stack}: ModelRegistry component`, () => {
        it("creates one model package group named through the Namer, with outputs name and ARN", async () => {
            let registry: ModelRegistry | undefined;
            const { graph, error } = await evaluate(stack, () => {
                const bed = testBed();
                registry = new ModelRegistry("model-registry", { context: bed.context, modelName: bed.config.modelName }, bed.opts);
                return { name: registry.groupName, arn: registry.groupArn };
            });
            assert.ifError(error);
            const group = graph.one("aws:sagemaker/modelPackageGroup:ModelPackageGroup");
            assert.equal(group.inputs.modelPackageGroupName, `mlops-${stack}-churn`);
            assert.match(group.inputs.modelPackageGroupDescription, new RegExp(`churn versions trained by the mlops-${stack} pipeline`));
            assert.equal(group.name, "model-registry-group");
            const component = graph.one("mlops:registry:ModelRegistry");
            assert.equal(graph.parentOf(group), component);
            assert.equal(component.outputs?.groupName, `mlops-${stack}-churn`);
            assert.match(component.outputs?.groupArn, /^arn:aws:sagemaker:us-east-1:123456789012:/);
            // Versions are the audit trail of what served: protected where data is (the platform, which hosts the registry).
            assert.equal(group.protect, stack === "platform");
        });

        it("refuses a model name SageMaker would refuse, naming the allowed form", async () => {
            const { error } = await evaluate(stack, () => {
                const bed = testBed();
                return new ModelRegistry("model-registry", { context: bed.context, modelName: "Churn_Model" }, bed.opts).groupName;
            });
            assert.match(String(error), /modelName "Churn_Model" is invalid; expected lowercase letters, digits or '-'/);
        });
    });
}
