// Validates every Kubernetes object in the YAML files given against the official schemas:
// kubernetes-models (core, apps, policy, autoscaling) and @kubernetes-models/{keda,gateway-api}; a KServe
// InferenceService against the CRD's openAPIV3Schema (--crd FILE), strictly: an unknown field is an
// error, as with `kubectl apply --validate=strict`.
// Prints one line per object ("ok FILE KIND NAME" or "invalid FILE KIND NAME: why"); exits 1 on any
// invalid or unknown object. Offline: the packages are installed by tests/deploy/install.sh.
import { readFileSync } from "node:fs";
import Ajv from "ajv";
import { parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Service } from "kubernetes-models/v1/Service";
import { Secret } from "kubernetes-models/v1/Secret";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";

const models = {
  "apps/v1 Deployment": Deployment,
  "v1 Service": Service,
  "v1 Secret": Secret,
  "policy/v1 PodDisruptionBudget": PodDisruptionBudget,
  "autoscaling/v2 HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "keda.sh/v1alpha1 ScaledObject": ScaledObject,
  "gateway.networking.k8s.io/v1 HTTPRoute": HTTPRoute,
};

// A CRD's schema allows unknown fields unless told otherwise; the API server's strict field validation
// does not. Close every object that lists its properties and does not preserve unknown fields.
function strict(schema) {
  if (!schema || typeof schema !== "object") return schema;
  if (schema.properties && schema.additionalProperties === undefined && !schema["x-kubernetes-preserve-unknown-fields"])
    schema.additionalProperties = false;
  for (const v of Object.values(schema.properties ?? {})) strict(v);
  if (schema.items) strict(schema.items);
  if (typeof schema.additionalProperties === "object") strict(schema.additionalProperties);
  return schema;
}

const args = process.argv.slice(2);
const crdAt = args.indexOf("--crd");
if (crdAt >= 0) {
  const crd = parseAllDocuments(readFileSync(args[crdAt + 1], "utf8")).map((d) => d.toJS()).find((d) => d?.kind === "CustomResourceDefinition");
  const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false });
  for (const v of crd.spec.versions) {
    const check = ajv.compile(strict(v.schema.openAPIV3Schema));
    models[`${crd.spec.group}/${v.name} ${crd.spec.names.kind}`] = class {
      constructor(obj) { this.obj = obj; }
      validate() {
        if (!check(this.obj)) throw new Error(check.errors.map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`).join("; "));
      }
    };
  }
  args.splice(crdAt, 2);
}

let bad = 0;
for (const file of args) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) {
      console.log(`invalid ${file}: YAML: ${doc.errors[0].message}`);
      bad++;
      continue;
    }
    const obj = doc.toJS();
    if (!obj) continue;
    const key = `${obj.apiVersion} ${obj.kind}`;
    const name = obj.metadata?.name ?? "?";
    if (obj.kind === "Kustomization") continue; // kubectl kustomize checks it
    const Model = models[key];
    if (!Model) {
      console.log(`invalid ${file} ${key} ${name}: no schema for this kind`);
      bad++;
      continue;
    }
    try {
      new Model(obj).validate();
      console.log(`ok ${file} ${obj.kind} ${name}`);
    } catch (e) {
      console.log(`invalid ${file} ${obj.kind} ${name}: ${e.message}`);
      bad++;
    }
  }
}
process.exit(bad ? 1 : 0);
