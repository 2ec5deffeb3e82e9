// Validates rendered Kubernetes manifests against the Kubernetes API schemas:
//  - kubernetes-models / @kubernetes-models/prometheus-operator: each object against its kind's
//    OpenAPI schema (types, required fields, enums, formats), CRDs included;
//  - @kubernetes/client-node's generated API model (every field of every built-in kind): no
//    unknown field anywhere (what the API server's strict field validation rejects and a typo
//    such as `readinesProbe` silently loses otherwise).
// Then project rules (probes, security context, drain time, resources, HPA target, PDB).
//   node validate.mjs --overlay base|gpu FILE.yaml
import fs from "node:fs";
import yaml from "js-yaml";
// Only the generated models: the package's index also loads an HTTP stack that needs Node 22.
import * as k8s from "@kubernetes/client-node/dist/gen/models/all.js";

const args = process.argv.slice(2);
const overlay = args[args.indexOf("--overlay") + 1];
const file = args[args.length - 1];
const docs = yaml.loadAll(fs.readFileSync(file, "utf8")).filter(Boolean);
const errors = [];
const fail = (where, message) => errors.push(`${where}: ${message}`);

// ---- Schemas ------------------------------------------------------------------------------
async function modelClass(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const module = group === "monitoring.coreos.com"
    ? `@kubernetes-models/prometheus-operator/${group}/${version}`
    : `kubernetes-models/${group ? `${group}/` : ""}${version}`;
  const exports = await import(module);
  return exports[kind];
}

function clientType(apiVersion, kind) {
  const version = apiVersion.split("/").pop();
  return `${version[0].toUpperCase()}${version.slice(1)}${kind}`;
}

const PRIMITIVES = new Set(["string", "number", "boolean", "Date", "any", "object", "IntOrString", "number | string"]);
// Walks `value` against client-node's attribute map of `type`, reporting unknown fields.
function checkFields(value, type, where) {
  if (value === null || value === undefined || PRIMITIVES.has(type)) return;
  let m = /^Array<(.+)>$/.exec(type);
  if (m) {
    if (!Array.isArray(value)) return fail(where, `expected a list (${type})`);
    value.forEach((v, i) => checkFields(v, m[1], `${where}[${i}]`));
    return;
  }
  m = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (m) {
    for (const [k, v] of Object.entries(value)) checkFields(v, m[1], `${where}.${k}`);
    return;
  }
  const cls = k8s[type];
  if (!cls || !cls.attributeTypeMap) return fail(where, `no schema for type ${type}`);
  if (typeof value !== "object" || Array.isArray(value)) return fail(where, `expected an object (${type})`);
  const attributes = new Map(cls.attributeTypeMap.map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    if (!attributes.has(k)) fail(`${where}.${k}`, `unknown field (not in ${type})`);
    else checkFields(v, attributes.get(k), `${where}.${k}`);
  }
}

const byKind = {};
for (const doc of docs) {
  const where = `${doc.kind}/${doc.metadata?.name}`;
  (byKind[doc.kind] ??= []).push(doc);
  const Model = await modelClass(doc.apiVersion, doc.kind).catch(() => undefined);
  if (!Model) {
    fail(where, `unknown kind ${doc.apiVersion} ${doc.kind}`);
    continue;
  }
  try {
    new Model(doc).validate();
  } catch (e) {
    const details = (e.errors ?? []).map((x) => `${x.instancePath} ${x.message}`).join("; ");
    fail(where, `schema: ${details || e.message}`);
  }
  if (doc.apiVersion !== "monitoring.coreos.com/v1") checkFields(doc, clientType(doc.apiVersion, doc.kind), where);
}

// ---- Project rules ------------------------------------------------------------------------
const one = (kind) => (byKind[kind] ?? [])[0];
const need = (cond, where, message) => { if (!cond) fail(where, message); };
for (const kind of ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap",
                    "PrometheusRule", "ServiceMonitor", "NetworkPolicy"]) {
  need(byKind[kind], kind, "missing");
}
const deployment = one("Deployment");
if (deployment) {
  const where = "Deployment";
  const pod = deployment.spec.template.spec;
  const c = pod.containers[0];
  const flagsMap = one("ConfigMap")?.data?.flags ?? "";
  const flag = (name) => (new RegExp(`^--${name}=(.*)$`, "m").exec(flagsMap) ?? [])[1];
  need(pod.securityContext?.runAsNonRoot === true, where, "runAsNonRoot");
  need(c.securityContext?.readOnlyRootFilesystem === true, where, "readOnlyRootFilesystem");
  need(c.securityContext?.allowPrivilegeEscalation === false, where, "allowPrivilegeEscalation: false");
  need(JSON.stringify(c.securityContext?.capabilities?.drop) === '["ALL"]', where, "capabilities drop ALL");
  need(c.resources?.requests?.cpu && c.resources?.limits?.memory, where, "resource requests and limits");
  const healthPort = Number((flag("health_listen") ?? "").split(":").pop());
  for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
    need(c[probe]?.grpc?.port === healthPort, where, `${probe} must be a grpc probe on the --health_listen port ${healthPort}`);
  }
  const drain = Number(flag("drain_seconds") ?? 30);
  const preStop = Number(c.lifecycle?.preStop?.exec?.command?.[1] ?? c.lifecycle?.preStop?.sleep?.seconds ?? 0);
  need(preStop > 0, where, "preStop hook");
  need(pod.terminationGracePeriodSeconds >= preStop + drain + 5, where,
       `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} < preStop ${preStop} + drain ${drain} + 5`);
  need(c.args?.some((a) => a.startsWith("--flagfile=")), where, "flags from the ConfigMap");
  need(flag("model_dir"), where, "--model_dir in the flags");
  if (overlay === "gpu") {
    need(c.resources?.limits?.["nvidia.com/gpu"] && c.resources?.requests?.["nvidia.com/gpu"], where, "nvidia.com/gpu request and limit");
    need(/cuda/.test(flag("device") ?? ""), where, "--device=cuda");
    need(/cuda/.test(c.image), where, "the CUDA image");
  } else {
    need(!c.resources?.limits?.["nvidia.com/gpu"], where, "no GPU in the CPU variant");
  }
  const labels = deployment.spec.template.metadata.labels;
  const matches = (selector) => Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
  need(matches(deployment.spec.selector.matchLabels), where, "the selector matches the pod labels");
  for (const svc of byKind.Service ?? []) need(matches(svc.spec.selector), `Service/${svc.metadata.name}`, "selects the pods");
  need((byKind.Service ?? []).some((s) => s.spec.clusterIP === "None"), "Service", "a headless service");
  need(matches(one("PodDisruptionBudget")?.spec.selector.matchLabels), "PodDisruptionBudget", "selects the pods");
  const hpa = one("HorizontalPodAutoscaler");
  need(hpa?.spec.scaleTargetRef.name === deployment.metadata.name, "HorizontalPodAutoscaler", "targets the Deployment");
  need(hpa?.spec.metrics.some((m) => m.type === "Pods"), "HorizontalPodAutoscaler", "a custom per-pod metric");
}

if (errors.length) {
  console.error(`${file}: ${errors.length} problem(s):\n  ${errors.join("\n  ")}`);
  process.exit(1);
}
console.log(`${file}: ${docs.length} objects valid (${Object.keys(byKind).sort().join(", ")})`);
