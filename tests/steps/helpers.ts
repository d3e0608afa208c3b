/**
 * Test doubles for step tests: a clock whose sleeps pass instantly (and are recorded), captured output, AWS
 * service errors shaped like the SDK's, and an AWS backend built on aws-sdk-client-mock clients.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { SageMakerClient } from "@aws-sdk/client-sagemaker";
import { SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { mockClient } from "aws-sdk-client-mock";
import { createAwsBackend } from "../../steps/lib/aws";
import { Backend } from "../../steps/lib/backend";
import { Io } from "../../steps/lib/cli";
import { Clock } from "../../steps/lib/retry";

export class FakeClock implements Clock {
    time = 0;
    readonly sleeps: number[] = [];
    now(): number {
        return this.time;
    }
    async sleep(ms: number): Promise<void> {
        this.sleeps.push(ms);
        this.time += ms;
    }
    random(): number {
        return 0.5;
    }
}

export class CapturedIo implements Io {
    readonly stdout: string[] = [];
    readonly stderr: string[] = [];
    constructor(readonly env: Record<string, string | undefined> = {}) {}
    out(line: string): void {
        this.stdout.push(line);
    }
    err(line: string): void {
        this.stderr.push(line);
    }
    get all(): string {
        return [...this.stdout, ...this.stderr].join("\n");
    }
}

/** An error as the AWS SDK v3 throws it for a service exception. */
export function awsError(name: string, message: string, httpStatusCode = 400): Error {
    const e = new Error(message) as Error & { $metadata: { httpStatusCode: number }; $fault: string };
    e.name = name;
    e.$metadata = { httpStatusCode };
    e.$fault = httpStatusCode >= 500 ? "server" : "client";
    return e;
}

export const notFound = () => awsError("ValidationException", "Requested resource not found.");
export const throttled = () => awsError("ThrottlingException", "Rate exceeded", 400);
export const accessDenied = (action: string) => awsError("AccessDeniedException",
    `User: arn:aws:sts::123456789012:assumed-role/train/x is not authorized to perform: ${action}`, 400);

export function mockedAwsBackend() {
    const s3 = mockClient(S3Client);
    const sagemaker = mockClient(SageMakerClient);
    const runtime = mockClient(SageMakerRuntimeClient);
    const backend: Backend = createAwsBackend({
        region: "us-east-1",
        kmsKeyId: "arn:aws:kms:us-east-1:123456789012:key/abc",
        clients: { s3: new S3Client({ region: "us-east-1" }), sagemaker: new SageMakerClient({ region: "us-east-1" }), runtime: new SageMakerRuntimeClient({ region: "us-east-1" }) },
    });
    return { s3, sagemaker, runtime, backend, restore: () => { s3.restore(); sagemaker.restore(); runtime.restore(); } };
}

/** A body the S3 / runtime mocks can return (the backend also accepts plain bytes). */
export function body(text: string): never {
    return Buffer.from(text) as never;
}

/**
 * How close a metric computed here must be to scikit-learn's (tests/fixtures/metrics/sklearn-metrics.json):
 * within 1e-9 relative. The fixture's numbers were computed by numpy on one CPU; on another CPU, and in this
 * TypeScript, the same sums of at most 2,000 terms round differently in the last bits (measured: 2.2e-15
 * relative at worst; bound n * 2^-53 = 2.2e-13). A real difference in how a metric is computed is far larger:
 * a tie counted as an order, or a pair swapped, moves the ROC AUC by at least 0.5/(n_pos * n_neg), 1.7e-6
 * relative in the largest case; clipping log loss at 1e-15 instead of float64's eps moves it by 0.75 in the
 * extreme case; a threshold convention changes the confusion counts (compared exactly). An expected value of
 * exactly 0 (precision with nothing predicted positive) must be exactly 0.
 */
export const SKLEARN_REL_TOLERANCE = 1e-9;

/** Why `actual` is not scikit-learn's `expected` within SKLEARN_REL_TOLERANCE, or undefined when it is. */
export function sklearnMismatch(actual: number | null, expected: number, what: string): string | undefined {
    if (actual === null) return `${what}: got null, scikit-learn says ${expected}`;
    const difference = Math.abs(actual - expected);
    if (difference <= SKLEARN_REL_TOLERANCE * Math.abs(expected)) return undefined;
    return `${what}: ${actual} differs from scikit-learn's ${expected} by ${difference} (relative ${difference / Math.abs(expected)})`;
}
