// Drive an MCP server over stdio with the official TypeScript SDK's Client, as editors and agents do.
//
//   node client.mjs PLAN.json
//
// PLAN: {"command": str, "args": [str], "env": {str: str}, "listTools": bool, "calls": [{"tool", "arguments"}]}
// Prints one JSON object on stdout: {"tools": [{"name", "outputSchema"}] | null, "results": [RESULT]}, where a
// RESULT is what the SDK handed back -- {"isError", "content", "structuredContent"} -- or, when the SDK threw,
// {"thrown": {"code", "message"}} (a protocol error, or the SDK's own check of the result failed).
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const transport = new StdioClientTransport({
  command: plan.command, args: plan.args ?? [], env: plan.env, stderr: "ignore",
});
const client = new Client({ name: "mosaic-tui-tests", version: "1.0.0" });
await client.connect(transport);

const out = { server: client.getServerVersion(), tools: null, results: [] };
if (plan.listTools !== false) {  // listing tools is what arms the SDK's output-schema checks
  const { tools } = await client.listTools();
  out.tools = tools.map((t) => ({ name: t.name, outputSchema: t.outputSchema ?? null }));
}
for (const call of plan.calls ?? []) {
  try {
    const res = await client.callTool({ name: call.tool, arguments: call.arguments ?? {} });
    out.results.push({ isError: res.isError ?? false, content: res.content,
                       structuredContent: res.structuredContent ?? null });
  } catch (err) {
    out.results.push({ thrown: { code: err.code ?? null, message: String(err.message ?? err) } });
  }
}
await client.close();
process.stdout.write(JSON.stringify(out) + "\n");
