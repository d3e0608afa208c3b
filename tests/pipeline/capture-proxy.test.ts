import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { CaptureProxy, captureFolder, CaptureRecord } from "../../pipeline/lib/capture-proxy";
import { freePort } from "../../pipeline/lib/process-supervisor";

/** A stand-in model server: echoes a probability per CSV line, 400 on "bad". */
function fakeModelServer(): http.Server {
    return http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => {
            const body = Buffer.concat(chunks).toString();
            if (req.url === "/ping") { res.writeHead(200); res.end(); return; }
            if (body.includes("bad")) { res.writeHead(400, { "content-type": "application/json" }); res.end('{"error":"bad"}'); return; }
            const n = body.trim().split("\n").length;
            res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify({ predictions: Array(n).fill(0.25) }));
        });
    });
}

function readCapture(root: string): CaptureRecord[] {
    const files: string[] = [];
    const walk = (d: string) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) =>
        e.isDirectory() ? walk(path.join(d, e.name)) : files.push(path.join(d, e.name)));
    if (fs.existsSync(root)) walk(root);
    return files.flatMap((f) => fs.readFileSync(f, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)));
}

describe("local data capture proxy", () => {
    let upstream: http.Server;
    let upstreamUrl: string;
    let root: string;
    const at = new Date(Date.UTC(2026, 10, 28, 7, 5, 9, 42));

    before(async () => {
        upstream = fakeModelServer();
        const port = await freePort();
        await new Promise<void>((r) => upstream.listen(port, "127.0.0.1", r));
        upstreamUrl = `http://127.0.0.1:${port}`;
    });
    after(() => new Promise<void>((r) => upstream.close(() => r())));
    beforeEach(() => { root = fs.mkdtempSync(path.join(os.tmpdir(), "capture-")); });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    async function withProxy(options: Partial<ConstructorParameters<typeof CaptureProxy>[0]>, fn: (url: string, proxy: CaptureProxy) => Promise<void>) {
        const proxy = new CaptureProxy({ upstream: upstreamUrl, captureRoot: root, endpointName: "mlops-local-churn", now: () => at, ...options });
        const port = await freePort();
        await proxy.listen(port);
        try {
            await fn(`http://127.0.0.1:${port}`, proxy);
        } finally {
            await proxy.close();
        }
    }

    it("forwards requests and writes SageMaker's capture layout and line format", async () => {
        await withProxy({}, async (url) => {
            const res = await fetch(`${url}/invocations`, { method: "POST", headers: { "content-type": "text/csv" }, body: "1,2,3\n4,5,6" });
            assert.equal(res.status, 200);
            assert.deepEqual(await res.json(), { predictions: [0.25, 0.25] });
        });
        const folder = captureFolder(root, "mlops-local-churn", "primary", at);
        assert.equal(folder, path.join(root, "mlops-local-churn", "primary", "2026", "11", "28", "07"));
        const files = fs.readdirSync(folder);
        assert.equal(files.length, 1);
        assert.match(files[0], /^05-09-042-[0-9a-f-]{36}\.jsonl$/);
        const [record] = readCapture(root);
        assert.deepEqual(record.captureData.endpointInput, { observedContentType: "text/csv", mode: "INPUT", data: "1,2,3\n4,5,6", encoding: "CSV" });
        assert.deepEqual(record.captureData.endpointOutput, { observedContentType: "application/json", mode: "OUTPUT", data: '{"predictions":[0.25,0.25]}', encoding: "JSON" });
        assert.equal(record.eventMetadata.inferenceTime, "2026-11-28T07:05:09.042Z");
        assert.match(record.eventMetadata.eventId, /^[0-9a-f-]{36}$/);
        assert.equal(record.eventVersion, "0");
    });

    it("captures only successful invocations, never pings or client errors", async () => {
        await withProxy({}, async (url, proxy) => {
            assert.equal((await fetch(`${url}/ping`)).status, 200);
            const bad = await fetch(`${url}/invocations`, { method: "POST", headers: { "content-type": "text/csv" }, body: "bad" });
            assert.equal(bad.status, 400);
            assert.deepEqual(await bad.json(), { error: "bad" });
            assert.equal(proxy.forwarded, 2);
        });
        assert.deepEqual(readCapture(root), []);
    });

    it("samples by percentage", async () => {
        const draws = [0.05, 0.5, 0.15, 0.95];
        await withProxy({ samplingPercentage: 20, random: () => draws.shift()! }, async (url, proxy) => {
            for (let i = 0; i < 4; i++) await fetch(`${url}/invocations`, { method: "POST", headers: { "content-type": "text/csv" }, body: `${i}` });
            assert.equal(proxy.captured, 2);
        });
        assert.deepEqual(readCapture(root).map((r) => r.captureData.endpointInput.data), ["0", "2"]);
    });

    it("base64-encodes content types that are neither CSV nor JSON", async () => {
        await withProxy({}, async (url) => {
            await fetch(`${url}/invocations`, { method: "POST", headers: { "content-type": "application/x-npy" }, body: "abc" });
        });
        const [record] = readCapture(root);
        assert.equal(record.captureData.endpointInput.encoding, "BASE64");
        assert.equal(Buffer.from(record.captureData.endpointInput.data, "base64").toString(), "abc");
    });

    it("answers 502 with a JSON error when the model server is down", async () => {
        const proxy = new CaptureProxy({ upstream: "http://127.0.0.1:1", captureRoot: root, endpointName: "x" });
        const port = await freePort();
        await proxy.listen(port);
        try {
            const res = await fetch(`http://127.0.0.1:${port}/invocations`, { method: "POST", body: "1" });
            assert.equal(res.status, 502);
            assert.equal(((await res.json()) as { error: string }).error, "model server unreachable");
        } finally {
            await proxy.close();
        }
    });
});
