// A minimal kustomize: renders a kustomization that uses only `resources` (files and folders),
// `patches` (strategic-merge files; lists of objects with a `name` merge by name, other lists
// are replaced) and `images`. deploy/k8s keeps to these, so CI can render it without kubectl;
// when kubectl is present, check_k8s.sh checks that both renderings are identical.
import fs from "node:fs";
import path from "node:path";
import yaml from "js-yaml";

const SUPPORTED = new Set(["apiVersion", "kind", "resources", "patches", "images"]);

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export function merge(target, patch) {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (isObject(current) && isObject(value)) {
      merge(current, value);
    } else if (Array.isArray(current) && Array.isArray(value) &&
               value.every((v) => isObject(v) && typeof v.name === "string") &&
               current.every((v) => isObject(v) && typeof v.name === "string")) {
      for (const item of value) {
        const existing = current.find((c) => c.name === item.name);
        if (existing) merge(existing, item);
        else current.push(item);
      }
    } else {
      target[key] = structuredClone(value);
    }
  }
  return target;
}

function podSpecs(doc) {
  const spec = doc.spec?.template?.spec ?? doc.spec?.jobTemplate?.spec?.template?.spec;
  return spec ? [spec] : [];
}

export function render(dir) {
  const kustomization = yaml.load(fs.readFileSync(path.join(dir, "kustomization.yaml"), "utf8"));
  for (const key of Object.keys(kustomization)) {
    if (!SUPPORTED.has(key)) throw new Error(`${dir}/kustomization.yaml: "${key}" is not supported by render.mjs`);
  }
  const docs = [];
  for (const resource of kustomization.resources ?? []) {
    const p = path.join(dir, resource);
    if (fs.statSync(p).isDirectory()) docs.push(...render(p));
    else docs.push(...yaml.loadAll(fs.readFileSync(p, "utf8")).filter(Boolean));
  }
  for (const patch of kustomization.patches ?? []) {
    if (!patch.path || patch.target) throw new Error(`${dir}: only patches with a path and no target are supported`);
    for (const p of yaml.loadAll(fs.readFileSync(path.join(dir, patch.path), "utf8")).filter(Boolean)) {
      const target = docs.find((d) => d.kind === p.kind && d.metadata?.name === p.metadata?.name);
      if (!target) throw new Error(`${dir}/${patch.path}: no ${p.kind} ${p.metadata?.name} to patch`);
      merge(target, p);
    }
  }
  for (const image of kustomization.images ?? []) {
    for (const doc of docs) {
      for (const spec of podSpecs(doc)) {
        for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
          const at = c.image.lastIndexOf(":");
          const hasTag = at > c.image.lastIndexOf("/");
          const name = hasTag ? c.image.slice(0, at) : c.image;
          const tag = hasTag ? c.image.slice(at + 1) : undefined;
          if (name !== image.name) continue;
          const newTag = image.newTag ?? tag;
          c.image = (image.newName ?? name) + (newTag ? `:${newTag}` : "");
        }
      }
    }
  }
  return docs;
}

// Sorted documents, for comparing two renderings.
function canonical(docs) {
  return docs.map((d) => yaml.dump(d, { sortKeys: true, lineWidth: -1 }))
    .sort()
    .join("---\n");
}

// node render.mjs DIR             -> the rendered YAML on stdout
// node render.mjs --compare A B   -> exit 1 unless the two YAML files hold the same objects
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  if (process.argv[2] === "--compare") {
    const [a, b] = process.argv.slice(3).map((f) => canonical(yaml.loadAll(fs.readFileSync(f, "utf8")).filter(Boolean)));
    if (a !== b) {
      console.error(`${process.argv[3]} and ${process.argv[4]} differ`);
      process.exit(1);
    }
  } else {
    process.stdout.write(render(process.argv[2]).map((d) => yaml.dump(d, { sortKeys: true, lineWidth: -1 })).join("---\n"));
  }
}
