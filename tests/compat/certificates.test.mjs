// Client certificates through the official client's operations, on an
// unsecured corvusd (the admin API works the same; authorization is off):
// PutClientCertificateOperation (PEM body lines, as RavenDB's own test sends),
// GetCertificatesOperation / GetCertificateOperation, the metadata variants,
// EditClientCertificateOperation and DeleteCertificateOperation,
// CreateClientCertificateOperation (the server makes the certificate and hands
// back a zip whose .pfx node can load as a TLS identity), and a bad
// certificate refused with a BadRequestException that stores nothing.
// Certificates are made with the openssl command line.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  PutClientCertificateOperation, GetCertificatesOperation, GetCertificateOperation,
  GetCertificateMetadataOperation, GetCertificatesMetadataOperation,
  EditClientCertificateOperation, DeleteCertificateOperation, CreateClientCertificateOperation,
} from "ravendb";
import { createSecureContext } from "node:tls";
import { writeFile } from "node:fs/promises";
import { CorvusServer, openStore } from "./harness.mjs";

let server;
let store;
let dir;
before(async () => {
  server = await CorvusServer.create();
  store = openStore(server, "unused");
  dir = await mkdtemp(join(tmpdir(), "corvus-certs-"));
}, { timeout: 60_000 });
after(async () => {
  store?.dispose();
  await server?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// A self-signed certificate "CN=<cn>": its PEM and its SHA-1 thumbprint (hex, upper case).
async function makeCertificate(cn) {
  const key = join(dir, `${cn}.key`);
  const crt = join(dir, `${cn}.crt`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", key, "-out", crt, "-days", "2", "-subj", `/CN=${cn}`], { stdio: "ignore" });
  const fingerprint = execFileSync("openssl", ["x509", "-in", crt, "-noout", "-fingerprint", "-sha1"]).toString();
  return { pem: await readFile(crt, "utf8"), thumbprint: fingerprint.split("=")[1].trim().replaceAll(":", "") };
}

// What RavenDB's HttpsTest sends: the PEM's base64 lines, joined with CRLF.
function bodyLines(pem) {
  const lines = pem.trim().split(/\r?\n/);
  return lines.slice(1, lines.length - 1).join("\r\n");
}

test("certificates: put, list, get, metadata, edit, delete through the official client", { timeout: 60_000 }, async () => {
  const ops = await makeCertificate("ops");
  const reader = await makeCertificate("reader");
  const send = (op) => store.maintenance.server.send(op);

  await send(new PutClientCertificateOperation("ops", bodyLines(ops.pem), {}, "Operator"));
  await send(new PutClientCertificateOperation("reader", reader.pem, { orders: "Read" }, "ValidUser"));

  let all = await send(new GetCertificatesOperation(0, 20));
  assert.equal(all.length, 2);
  const opsDef = all.find((x) => x.name === "ops");
  assert.equal(opsDef.thumbprint, ops.thumbprint);
  assert.equal(opsDef.securityClearance, "Operator");
  assert.ok(opsDef.notAfter instanceof Date && opsDef.notBefore instanceof Date);
  assert.ok(opsDef.notAfter > new Date());
  assert.ok(opsDef.certificate.length > 100);
  assert.equal(opsDef.publicKeyPinningHash.length, 44);

  const one = await send(new GetCertificateOperation(reader.thumbprint));
  assert.equal(one.name, "reader");
  // (The client camelCases every key of the answer, database names too: lower-case names here.)
  assert.deepEqual(one.permissions, { orders: "Read" });
  assert.equal((await send(new GetCertificateOperation("0".repeat(40)))) ?? null, null);  // 404: no result

  const meta = await send(new GetCertificateMetadataOperation(reader.thumbprint));
  assert.equal(meta.securityClearance, "ValidUser");
  assert.ok(meta.notAfter instanceof Date);
  assert.equal(meta.certificate, undefined);
  const byName = await send(new GetCertificatesMetadataOperation("ops"));
  assert.equal(byName.length, 1);
  assert.equal(byName[0].thumbprint, ops.thumbprint);

  await send(new EditClientCertificateOperation({
    thumbprint: reader.thumbprint, name: "reader-writer", permissions: { orders: "ReadWrite" }, clearance: "ValidUser",
  }));
  const edited = await send(new GetCertificateOperation(reader.thumbprint));
  assert.equal(edited.name, "reader-writer");
  assert.deepEqual(edited.permissions, { orders: "ReadWrite" });

  // Bad input: refused, nothing stored.
  await assert.rejects(send(new PutClientCertificateOperation("bad", "bm90IGEgY2VydGlmaWNhdGU=", {}, "ValidUser")),
    (err) => err.name === "BadRequestException" && /not a DER-encoded X.509 certificate/.test(err.message));
  await assert.rejects(send(new PutClientCertificateOperation("bad", ops.pem, { Orders: "Read" }, "ClusterAdmin")),
    (err) => err.name === "BadRequestException" && /ValidUser only/.test(err.message));
  assert.equal((await send(new GetCertificatesOperation(0, 20))).length, 2);

  await send(new DeleteCertificateOperation(ops.thumbprint));
  assert.equal((await send(new GetCertificateOperation(ops.thumbprint))) ?? null, null);
  all = await send(new GetCertificatesOperation(0, 20));
  assert.deepEqual(all.map((x) => x.name), ["reader-writer"]);
});

test("CreateClientCertificateOperation: a registered certificate and a zip with a usable .pfx", { timeout: 60_000 }, async () => {
  const send = (op) => store.maintenance.server.send(op);
  const created = await send(new CreateClientCertificateOperation("generated", { orders: "ReadWrite" }, "ValidUser", "pw"));
  const zip = created.rawData;
  assert.ok(zip.length > 4096);
  assert.equal(zip.subarray(0, 2).toString(), "PK");
  const zipPath = join(dir, "generated.zip");
  await writeFile(zipPath, zip);
  const pfx = execFileSync("python3", ["-c",
    "import zipfile,sys; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read('generated.pfx'))", zipPath]);
  assert.throws(() => createSecureContext({ pfx, passphrase: "wrong" }));
  createSecureContext({ pfx, passphrase: "pw" });  // what DocumentStore's authOptions { type: "pfx" } does with it

  const listed = (await send(new GetCertificatesOperation(0, 20))).filter((x) => x.name === "generated");
  assert.equal(listed.length, 1);
  assert.equal(listed[0].securityClearance, "ValidUser");
  assert.deepEqual(listed[0].permissions, { orders: "ReadWrite" });
  await send(new DeleteCertificateOperation(listed[0].thumbprint));

  await assert.rejects(send(new CreateClientCertificateOperation("nope", {}, "Root")),
    (err) => err.name === "BadRequestException" && /SecurityClearance 'Root'/.test(err.message));
  assert.equal((await send(new GetCertificatesOperation(0, 20))).filter((x) => x.name === "nope").length, 0);
});
