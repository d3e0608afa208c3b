/** The local pipeline summary's "data" line, for a published ETL run and for each way the ETL can stop. */
import assert from "node:assert/strict";

import { etlDataLine } from "../../pipeline/summary";

describe("local pipeline summary: the ETL's data line", () => {
    it("a published run shows rows in, out and quarantined by reason", () => {
        assert.equal(etlDataLine({ rowsIn: 2000, rowsOut: 1978, rowsQuarantined: 22, quarantineByReason: { duplicate_id: 2, non_numeric: 20, out_of_range: 0 } }),
            "2000 rows in, 1978 out, 22 quarantined (duplicate_id 2, non_numeric 20)");
        assert.equal(etlDataLine({ rowsIn: 50, rowsOut: 50, rowsQuarantined: 0 }), "50 rows in, 50 out, 0 quarantined");
    });

    it("a gate stop says the gate stopped it and why, not '569 rows in, 0 out, 0 quarantined ()'", () => {
        const line = etlDataLine({
            rowsIn: 569, rowsOut: 0, rowsQuarantined: 0, quarantineByReason: { non_numeric: 0 }, failure: "/x/failure.json", kind: "gate",
            message: "quality gate failed: categorical feature 'contract': 569 of 569 usable rows (100.0%) hold a value that is not one of its categories",
        });
        assert.equal(line, "stopped by the ETL quality gate, nothing published: 569 rows read, 0 quarantined; quality gate failed: " +
            "categorical feature 'contract': 569 of 569 usable rows (100.0%) hold a value that is not one of its categories");
        assert.doesNotMatch(line, /\(\)/);
    });

    it("an input failure without row counts names its kind and message", () => {
        assert.equal(etlDataLine({ rowsOut: 0, failure: "/x/failure.json", kind: "input", message: "input is empty: no header line and no rows" }),
            "stopped by the ETL (input), nothing published: input is empty: no header line and no rows");
        assert.equal(etlDataLine(undefined), "—");
    });
});
