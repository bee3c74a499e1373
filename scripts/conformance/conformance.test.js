// The public Durable Streams conformance suite, run through its exported entry point (its CLI finds no
// test files when the package is installed from npm).
import { runConformanceTests } from "@durable-streams/server-conformance-tests";

const baseUrl = process.env.CONFORMANCE_TEST_URL;
if (!baseUrl) {
  throw new Error("set CONFORMANCE_TEST_URL to the server under test, e.g. http://127.0.0.1:8080");
}

runConformanceTests({ baseUrl });
