// Validates every Kubernetes object in the YAML files given against the official schemas:
// kubernetes-models (core, apps, policy, autoscaling) and @kubernetes-models/{keda,gateway-api}.
// Prints one line per object ("ok FILE KIND NAME" or "invalid FILE KIND NAME: why"); exits 1 on any
// invalid or unknown object. Offline: the packages are installed by tests/deploy/install.sh.
import { readFileSync } from "node:fs";
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

let bad = 0;
for (const file of process.argv.slice(2)) {
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
