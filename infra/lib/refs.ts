/**
 * How a component refers to a resource another component owns: the one reference type of the program.
 */
import * as pulumi from "@pulumi/pulumi";

/** A resource another component owns (a bucket, a function, a CodeBuild project), by name and ARN. */
export interface ResourceRef {
    readonly name: pulumi.Input<string>;
    readonly arn: pulumi.Input<string>;
}
