# The deploy golden cases, shared by tests/cli/37-deploy.sh and `make golden`:
# deploy_case NAME OUT runs amlpkg deploy for case NAME into the folder OUT.
# Needs $AMLPKG and $ROOT.
DEPLOY_IMAGE=registry.example.com/ml/ridge@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
DEPLOY_CASES="aks-autoscale aks-autoscale-hpa aks-gpu-fixed aks-defaults aks-tls aci token kserve kserve-gpu-fixed endpoint endpoint-set-traffic kserve-canary"
deploy_case() {
  local name=$1 out=$2 d="$ROOT/tests/cli/deploy" spec="$ROOT/examples/onnx-ridge/spec.yaml"
  case $name in
    aks-autoscale-hpa) "$AMLPKG" deploy "$spec" --deployment-config "$d/aks-autoscale.json" --image "$DEPLOY_IMAGE" --autoscaler hpa -o "$out" ;;
    kserve) "$AMLPKG" deploy "$spec" --deployment-config "$d/aks-autoscale.json" --image "$DEPLOY_IMAGE" --target kserve -o "$out" ;;
    kserve-gpu-fixed) "$AMLPKG" deploy "$spec" --deployment-config "$d/aks-gpu-fixed.json" --image "$DEPLOY_IMAGE" --target kserve -o "$out" ;;
    endpoint) "$AMLPKG" deploy "$spec" --deployment-config "$d/aks-autoscale.json" --endpoint "$d/endpoint.yaml" -o "$out" ;;
    endpoint-set-traffic) deploy_case endpoint "$out" &&
      "$AMLPKG" deploy "$spec" --endpoint "$d/endpoint.yaml" --set-traffic v1=50,v3=50 -o "$out" ;;
    kserve-canary) "$AMLPKG" deploy "$spec" --deployment-config "$d/aks-autoscale.json" --endpoint "$d/endpoint-canary.yaml" --target kserve -o "$out" ;;
    token) "$AMLPKG" deploy "$d/token/spec.yaml" --image "$DEPLOY_IMAGE" --service-type LoadBalancer -o "$out" ;;
    *) "$AMLPKG" deploy "$spec" --deployment-config "$d/$name.json" --image "$DEPLOY_IMAGE" -o "$out" ;;
  esac
}
