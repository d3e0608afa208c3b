/**
 * Keeping a resource's identity when it moves to another parent. A URN includes the parent chain, so a resource
 * re-parented without an alias is deleted and created again on the next `up` (Pulumi docs, "Resource option:
 * aliases"). An alias naming the former parent lets the engine adopt the existing resource instead.
 */
import * as pulumi from "@pulumi/pulumi";

/**
 * Options of a child of `parent` that used to be a child of `formerParent` under the same name and type.
 * @param formerParent URN of the former parent; undefined = the resource never lived elsewhere (no alias)
 */
export function childOptions(parent: pulumi.Resource, formerParent?: pulumi.Input<string>): pulumi.CustomResourceOptions {
    return formerParent === undefined ? { parent } : { parent, aliases: [{ parent: formerParent }] };
}
