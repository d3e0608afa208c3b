/**
 * The promoted version's pin, kept in the model registry (a tag on the model package group, see
 * contracts/registry.ts `pinTagKey`) so that every later run of the program serves it: the next Pulumi
 * Deployments run, a manual `pulumi up`, the pipeline's next deploy. A config value set through the Automation API
 * would only change this build's copy of the stack file.
 */
import { AddTagsCommand, DeleteTagsCommand, DescribeModelPackageGroupCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";
import { pinTagKey } from "../../contracts/registry";
import { fromAwsError } from "../lib/errors";

export interface PinStore {
    /** Pins `modelPackageArn` for `environment` on the group. */
    pin(groupName: string, environment: string, modelPackageArn: string): Promise<void>;
    /** Removes the environment's pin: the stack follows the registry's policy again. */
    unpin(groupName: string, environment: string): Promise<void>;
}

export function registryPinStore(client: Pick<SageMakerClient, "send">): PinStore {
    const groupArn = async (groupName: string) => {
        try {
            const group = await client.send(new DescribeModelPackageGroupCommand({ ModelPackageGroupName: groupName }));
            if (!group.ModelPackageGroupArn) throw new Error(`DescribeModelPackageGroup ${groupName} returned no ARN`);
            return group.ModelPackageGroupArn;
        } catch (e) {
            throw fromAwsError(e, `sagemaker:DescribeModelPackageGroup ${groupName}`);
        }
    };
    return {
        async pin(groupName, environment, modelPackageArn) {
            const arn = await groupArn(groupName);
            try {
                await client.send(new AddTagsCommand({ ResourceArn: arn, Tags: [{ Key: pinTagKey(environment), Value: modelPackageArn }] }));
            } catch (e) {
                throw fromAwsError(e, `sagemaker:AddTags ${arn}`);
            }
        },
        async unpin(groupName, environment) {
            const arn = await groupArn(groupName);
            try {
                await client.send(new DeleteTagsCommand({ ResourceArn: arn, TagKeys: [pinTagKey(environment)] }));
            } catch (e) {
                throw fromAwsError(e, `sagemaker:DeleteTags ${arn}`);
            }
        },
    };
}
