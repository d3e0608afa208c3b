import { EndpointInvoker, InvokeRequest, InvokeResponse } from "../backend";
import { errorMessage, StepError, UsageError } from "../errors";

export interface LocalInvokerOptions {
    /**
     * Base URL of the local `serve` process for endpoint names that are not URLs.
     * @default undefined — the endpoint must be an http(s):// URL
     */
    readonly defaultUrl?: string;
    /**
     * Per-request timeout; SageMaker gives a container 60 s to answer.
     * @default 60000
     */
    readonly timeoutMs?: number;
    /** @default globalThis.fetch */
    readonly fetch?: typeof fetch;
}

/** POSTs to `<url>/invocations` of a local `serve` process (contracts §4). */
export class LocalInvoker implements EndpointInvoker {
    constructor(private readonly options: LocalInvokerOptions = {}) {}

    baseUrl(endpoint: string): string {
        if (/^https?:\/\//.test(endpoint)) return endpoint.replace(/\/+$/, "").replace(/\/invocations$/, "");
        if (this.options.defaultUrl) return this.options.defaultUrl.replace(/\/+$/, "");
        throw new UsageError(`endpoint ${JSON.stringify(endpoint)}: the local backend needs an http(s):// URL (or --serve-url)`);
    }

    async invoke(request: InvokeRequest): Promise<InvokeResponse> {
        const url = `${this.baseUrl(request.endpoint)}/invocations`;
        const doFetch = this.options.fetch ?? fetch;
        let response: Response;
        try {
            response = await doFetch(url, {
                method: "POST",
                headers: { "Content-Type": request.contentType, Accept: request.accept ?? "application/json" },
                body: typeof request.body === "string" ? request.body : new Uint8Array(request.body),
                signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000),
            });
        } catch (e) {
            throw new StepError("failed", `POST ${url}: ${errorMessage(e)}`, "invoke", { cause: e });
        }
        const body = Buffer.from(await response.arrayBuffer());
        if (response.ok) return { body, contentType: response.headers.get("content-type") ?? undefined };
        const text = `POST ${url}: HTTP ${response.status}: ${body.toString("utf8").slice(0, 500)}`;
        if (response.status === 429 || response.status === 503) throw new StepError("throttled", text, "invoke");
        if (response.status === 403) throw new StepError("access-denied", text, "invoke");
        if (response.status === 404) throw new StepError("not-found", text, "invoke");
        if (response.status >= 400 && response.status < 500) throw new StepError("invalid", text, "invoke");
        throw new StepError("failed", text, "invoke");
    }
}
