/**
 * What every component needs to know about the stack it is part of, resolved once in the program entry.
 */
import * as pulumi from "@pulumi/pulumi";
import { Environment } from "../config";
import { Namer } from "../../contracts/resource-names";

export interface StackContext {
    /** The stack being deployed (`pulumi stack`), e.g. to tell which of the stacks a component manages is this one. */
    readonly stack: string;
    readonly environment: Environment;
    readonly region: string;
    readonly accountId: pulumi.Output<string>;
    readonly partition: pulumi.Output<string>;
    /** Builds every length-limited physical name. */
    readonly namer: Namer;
    /** CloudWatch Logs retention for every log group the stack creates. */
    readonly logRetentionDays: number;
    /** Data survives `pulumi destroy` (protect, no force-destroy). */
    readonly protectData: boolean;
    /**
     * Reserve Lambda concurrency for the stack's functions (config `lambdaReservedConcurrency`). Off by default:
     * Lambda lets an account reserve only up to its unreserved concurrency minus 100 ("Managing Lambda reserved
     * concurrency"), so in a new account whose concurrency quota is 10 any reservation is refused.
     * @default false
     */
    readonly reserveLambdaConcurrency?: boolean;
}

/** `arn:<partition>:<service>:<region>:<account>:<resource>` for this stack's account and region. */
export function arnOf(context: StackContext, service: string, resource: pulumi.Input<string>, opts?: { global?: boolean }) {
    const region = opts?.global ? "" : context.region;
    return pulumi.interpolate`arn:${context.partition}:${service}:${region}:${context.accountId}:${resource}`;
}
