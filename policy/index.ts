// The policy pack's entry: `pulumi preview --policy-pack policy`. The rules live in rules.ts so tests can run
// them without starting the pack's gRPC server.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules";

new PolicyPack("mlops-security-checklist", { policies });
