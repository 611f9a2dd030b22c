# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_kubectl_rayha_global_optspecs
    string join \n n/namespace= context= kubeconfig= request-timeout= h/help V/version
end

function __fish_kubectl_rayha_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_kubectl_rayha_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_kubectl_rayha_using_subcommand
    set -l cmd (__fish_kubectl_rayha_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -s n -l namespace -d 'Namespace for the objects (default: the context\'s namespace)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -l context -d 'Name of the kubeconfig context to use' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -l request-timeout -d 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -s V -l version -d 'Print version'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -f -a "generate" -d 'Render the HA bundle: Redis, password Secret, RayService with GCS fault tolerance, tester'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -f -a "lint" -d 'Check RayService manifests against the HA invariants and explain each miss'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -f -a "apply" -d 'Server-side apply the HA bundle (or -f FILE): preflight, dry run, ordered apply, wait for Ready'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -f -a "status" -d 'Show a RayService live: conditions, pods, serve endpoints, Serve replicas, HA checks'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -f -a "list" -d 'List the RayServices kubectl-rayha manages, with Ready and the HA verdict'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -f -a "delete" -d 'Delete everything kubectl-rayha created for a RayService (by its instance label)'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -f -a "failover" -d 'The head-failure drill: query while the head pod is deleted, time the recovery, gate on it'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -f -a "query" -d 'Send the guide\'s request in a loop (one in flight by default) and measure the answers'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -f -a "report" -d 'Render a saved failover or query report (text, JSON, HTML), or compare two side by side'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -f -a "completion" -d 'Print a shell completion script'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -f -a "__complete" -d 'Cobra-style completion protocol used by kubectl (kubectl_complete-rayha)'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l name -d 'RayService name (DNS-1035 label, at most 47 characters) [default: rayservice-ha]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l ray-version -d 'Ray version; also picks the image tag unless --image is given [default: 2.52.0]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l image -d 'Ray container image; its tag must match --ray-version [default: rayproject/ray:<ray-version>]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l kuberay-version -d 'KubeRay operator version the bundle targets; below 1.3 the legacy ft-enabled annotation is used [default: 1.7.0]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l worker-replicas -d 'Worker pods (desired) [default: the largest replica count of any Serve deployment]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l min-workers -d 'Worker group minReplicas [default: worker replicas]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l max-workers -d 'Worker group maxReplicas [default: max(5, worker replicas)]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l head-cpu -d 'CPU request and limit of the head pod [default: 1]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l head-memory -d 'Memory request of the head pod [default: 2Gi]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l head-memory-limit -d 'Memory limit of the head pod [default: 5Gi]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l worker-cpu -d 'CPU request and limit of each worker pod [default: 1]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l worker-memory -d 'Memory request and limit of each worker pod [default: 2Gi]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l serve-config -d 'Serve config file (the serveConfigV2 document); HA settings are enforced on every deployment' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l import-path -d 'Import path of a single Serve application [default: the sample\'s fruit app]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l working-dir -d 'runtime_env working_dir of the single application ("" for none) [default: the sample\'s zip]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l deployments -d 'Deployment names of the single application, comma separated [default: the fruit app\'s four]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l route-prefix -d 'Route prefix of the single application [default: /fruit]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l serve-replicas -d 'Replicas of each deployment of the single application (at least 2 for HA) [default: 2]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l redis-address -d 'Use an existing Redis at HOST:PORT; no Redis objects are emitted' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l redis-password-secret -d 'Use this existing Secret for the Redis password; no Secret is emitted' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l redis-password-key -d 'Key of the password inside the Secret [default: password]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l redis-image -d 'Redis image [default: redis:7.4.0]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l redis-storage -d 'Size of the PersistentVolumeClaim that keeps Redis /data (and so the GCS state) across the loss of the Redis pod, or `none` for an emptyDir: then losing the pod loses every actor, and each worker restarts and each Serve replica is redeployed [default: 1Gi]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l redis-storage-class -l storage-class -d 'StorageClass of the Redis PVC; its volumes must attach on any node Redis may move to (network block storage, not node-local disks) [default: the cluster\'s default class]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l redis-tls -d 'Redis speaks TLS only: a CA and a server certificate made for this bundle (ECDSA P-256, valid 5 years) go into the Secret <name>-redis-tls, Redis listens with TLS alone, and the GCS (and KubeRay\'s Redis cleanup Job) connects to rediss:// and checks the certificate against the CA (RAY_REDIS_CA_CERT); the Redis password no longer crosses the network in clear text' -r -f -a "true\t''
false\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l external-storage-namespace -d 'Storage namespace for GCS state in Redis [default: chosen by KubeRay, the RayCluster UID]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l spread -d 'Spread the worker pods over Kubernetes nodes (node), over zones and nodes (zone: nodes need topology.kubernetes.io/zone) or not at all (none: a one-node cluster such as kind or minikube; Redis then may share the head\'s node) [default: node]' -r -f -a "node\t''
zone\t''
none\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l node-loss-toleration -d 'How long Redis stays on a node that is not ready or unreachable before it is deleted and replaced elsewhere, e.g. 30s (Kubernetes\' default: 300s; Ray pods keep it, since KubeRay replaces a lost node\'s pod only once its object is gone) [default: 30s]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l with-tester -d 'Also emit the tester pod and ConfigMap that run the one-in-flight query loop in the cluster' -r -f -a "true\t''
false\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l allow-non-ha -d 'Generate even when the numbers cannot give HA (warns instead of refusing)' -r -f -a "true\t''
false\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l values -d 'YAML file with the same keys as the flags (e.g. `worker-replicas: 3`); flags win' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -s o -l output -d 'Output format' -r -f -a "yaml\t''
json\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l output-dir -d 'Write one file per object into DIR instead of printing the bundle' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -s n -l namespace -d 'Namespace for the objects (default: the context\'s namespace)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l context -d 'Name of the kubeconfig context to use' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -l request-timeout -d 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand generate" -s h -l help -d 'Print help'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand lint" -s o -l output -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand lint" -s n -l namespace -d 'Namespace for the objects (default: the context\'s namespace)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand lint" -l context -d 'Name of the kubeconfig context to use' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand lint" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand lint" -l request-timeout -d 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand lint" -s h -l help -d 'Print help'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -s f -l filename -d 'Apply the objects of this file (`-` for standard input) instead of a generated bundle' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l name -d 'RayService name (DNS-1035 label, at most 47 characters) [default: rayservice-ha]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l ray-version -d 'Ray version; also picks the image tag unless --image is given [default: 2.52.0]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l image -d 'Ray container image; its tag must match --ray-version [default: rayproject/ray:<ray-version>]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l kuberay-version -d 'KubeRay operator version the bundle targets; below 1.3 the legacy ft-enabled annotation is used [default: 1.7.0]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l worker-replicas -d 'Worker pods (desired) [default: the largest replica count of any Serve deployment]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l min-workers -d 'Worker group minReplicas [default: worker replicas]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l max-workers -d 'Worker group maxReplicas [default: max(5, worker replicas)]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l head-cpu -d 'CPU request and limit of the head pod [default: 1]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l head-memory -d 'Memory request of the head pod [default: 2Gi]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l head-memory-limit -d 'Memory limit of the head pod [default: 5Gi]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l worker-cpu -d 'CPU request and limit of each worker pod [default: 1]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l worker-memory -d 'Memory request and limit of each worker pod [default: 2Gi]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l serve-config -d 'Serve config file (the serveConfigV2 document); HA settings are enforced on every deployment' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l import-path -d 'Import path of a single Serve application [default: the sample\'s fruit app]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l working-dir -d 'runtime_env working_dir of the single application ("" for none) [default: the sample\'s zip]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l deployments -d 'Deployment names of the single application, comma separated [default: the fruit app\'s four]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l route-prefix -d 'Route prefix of the single application [default: /fruit]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l serve-replicas -d 'Replicas of each deployment of the single application (at least 2 for HA) [default: 2]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l redis-address -d 'Use an existing Redis at HOST:PORT; no Redis objects are emitted' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l redis-password-secret -d 'Use this existing Secret for the Redis password; no Secret is emitted' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l redis-password-key -d 'Key of the password inside the Secret [default: password]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l redis-image -d 'Redis image [default: redis:7.4.0]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l redis-storage -d 'Size of the PersistentVolumeClaim that keeps Redis /data (and so the GCS state) across the loss of the Redis pod, or `none` for an emptyDir: then losing the pod loses every actor, and each worker restarts and each Serve replica is redeployed [default: 1Gi]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l redis-storage-class -l storage-class -d 'StorageClass of the Redis PVC; its volumes must attach on any node Redis may move to (network block storage, not node-local disks) [default: the cluster\'s default class]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l redis-tls -d 'Redis speaks TLS only: a CA and a server certificate made for this bundle (ECDSA P-256, valid 5 years) go into the Secret <name>-redis-tls, Redis listens with TLS alone, and the GCS (and KubeRay\'s Redis cleanup Job) connects to rediss:// and checks the certificate against the CA (RAY_REDIS_CA_CERT); the Redis password no longer crosses the network in clear text' -r -f -a "true\t''
false\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l external-storage-namespace -d 'Storage namespace for GCS state in Redis [default: chosen by KubeRay, the RayCluster UID]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l spread -d 'Spread the worker pods over Kubernetes nodes (node), over zones and nodes (zone: nodes need topology.kubernetes.io/zone) or not at all (none: a one-node cluster such as kind or minikube; Redis then may share the head\'s node) [default: node]' -r -f -a "node\t''
zone\t''
none\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l node-loss-toleration -d 'How long Redis stays on a node that is not ready or unreachable before it is deleted and replaced elsewhere, e.g. 30s (Kubernetes\' default: 300s; Ray pods keep it, since KubeRay replaces a lost node\'s pod only once its object is gone) [default: 30s]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l with-tester -d 'Also emit the tester pod and ConfigMap that run the one-in-flight query loop in the cluster' -r -f -a "true\t''
false\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l allow-non-ha -d 'Generate even when the numbers cannot give HA (warns instead of refusing)' -r -f -a "true\t''
false\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l values -d 'YAML file with the same keys as the generate flags; flags win' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l dry-run -d 'Only show what would be applied: client (no cluster) or server (the API server validates it)' -r -f -a "none\t''
client\t''
server\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -s o -l output -d 'Print the applied objects in this format instead of one line per object' -r -f -a "yaml\t''
json\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l wait -d 'Wait until the RayService is Ready' -r -f -a "true\t''
false\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l timeout -d 'How long to wait, e.g. 10m' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l via -d 'With --load: where the load comes from (proxy, pod, or both: proxy,pod)' -r -f -a "proxy\t'Through the API server\'s service proxy to <NAME>-serve-svc (or --url when given)'
pod\t'From a tester pod in the namespace through the Service and kube-proxy, a fresh connection per request and one in flight, like the guide\'s query.py'"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l max-failures -d 'With --load: failed requests allowed for the verdict to pass' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l path -d 'With --load: request path' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l data -d 'With --load: request body [default: the guide\'s ["PEAR", 12]]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l expect -d 'With --load: body every reply must have [default: 12 for the guide\'s request]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l report -d 'With --load: also write the report to FILE (HTML when it ends in .html, else JSON)' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l junit -d 'With --load: also write a JUnit XML file for CI systems' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -s n -l namespace -d 'Namespace for the objects (default: the context\'s namespace)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l context -d 'Name of the kubeconfig context to use' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l request-timeout -d 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l force-conflicts -d 'Take over fields another field manager owns'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -l load -d 'Measure the rollout: query the running RayService while the change is applied and KubeRay rolls it out, then report as `failover` does (-o json prints the report)'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand status" -s o -l output -d 'Output format [default: text]' -r -f -a "yaml\t''
json\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand status" -s n -l namespace -d 'Namespace for the objects (default: the context\'s namespace)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand status" -l context -d 'Name of the kubeconfig context to use' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand status" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand status" -l request-timeout -d 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand status" -s w -l watch -d 'Print again whenever the RayService or its pods change (Ctrl-C to stop)'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand status" -s h -l help -d 'Print help'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand list" -s o -l output -d 'Output format [default: a table]' -r -f -a "yaml\t''
json\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand list" -s n -l namespace -d 'Namespace for the objects (default: the context\'s namespace)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand list" -l context -d 'Name of the kubeconfig context to use' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand list" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand list" -l request-timeout -d 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand list" -s A -l all-namespaces -d 'List in every namespace'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand list" -s h -l help -d 'Print help'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand delete" -l timeout -d 'How long to wait for KubeRay\'s cleanup (RayCluster and Redis keys) and for every object (and the Redis and tester pods) to be gone, e.g. 5m' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand delete" -s n -l namespace -d 'Namespace for the objects (default: the context\'s namespace)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand delete" -l context -d 'Name of the kubeconfig context to use' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand delete" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand delete" -l request-timeout -d 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand delete" -s y -l yes -d 'Do not ask for confirmation'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand delete" -s h -l help -d 'Print help'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l target -d 'What to kill' -r -f -a "head\t'Delete the Ray head pod (the guide\'s drill)'
worker\t'Delete one worker pod'
redis\t'Delete the Redis pod of the bundle'
node\t'Drain a node as `kubectl drain` does (cordon, evict its pods, uncordon at the end): the node of a worker, of the head with --node-of head, or --node NAME'
upgrade\t'Rehearse a new-cluster upgrade: one annotation on the head\'s pod template makes KubeRay start a new RayCluster, switch the serve Service to it and delete the old one'
serve-config\t'Rehearse an in-place Serve config update: a key in each deployment\'s user_config'"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l node-of -d 'With --target node: whose node to drain' -r -f -a "worker\t'A worker\'s node that holds no other pod of the RayService'
head\t'The head\'s node'"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l node -d 'With --target node: drain this node (it must run exactly one pod of the RayService)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l drain-timeout -d 'With --target node: how long the drain keeps evicting (a disruption budget may refuse)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l grace-period -d 'Grace period for the pod deletion in seconds [default: the pod\'s own]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l warmup -d 'Load before the kill' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l settle -d 'Load kept after full recovery' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l recovery-timeout -d 'Longest wait for full recovery per round [default: 5m; 15m for --target upgrade, whose new cluster starts beside the old one]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l max-failures -d 'Failed requests allowed over all rounds for the verdict to pass' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l max-recovery -d 'Recovery seconds allowed per round for the verdict to pass' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l rounds -d 'Repeat the drill N times, waiting for full recovery in between' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l via -d 'Where the load comes from: proxy, pod (a tester pod in the cluster, kept off the node the round takes down), or both at once (proxy,pod), each reported apart and together' -r -f -a "proxy\t'Through the API server\'s service proxy to <NAME>-serve-svc (or --url when given)'
pod\t'From a tester pod in the namespace through the Service and kube-proxy, a fresh connection per request and one in flight, like the guide\'s query.py'"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l url -d 'Query this URL instead of <NAME>-serve-svc through the API server (takes the place of the proxy route)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l path -d 'Request path' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -s d -l data -d 'Request body [default: the guide\'s ["PEAR", 12]]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l expect -d 'Body every reply must have [default: 12 for the guide\'s request]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -s c -l concurrency -d 'Requests in flight at once on the proxy or --url route (the pod route keeps one)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -s o -l output -d 'Output format of the report' -r -f -a "text\t''
json\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l report -d 'Also write the whole report to FILE: a self-contained HTML page when FILE ends in .html, else JSON' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l junit -d 'Also write a JUnit XML file (one test case per round) for CI systems' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -s n -l namespace -d 'Namespace for the objects (default: the context\'s namespace)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l context -d 'Name of the kubeconfig context to use' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l request-timeout -d 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -s y -l yes -d 'Do not ask for confirmation'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l force -d 'Run the drill even without GCS fault tolerance (to see what it costs)'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -l keep-alive -d 'With --url: reuse connections (by default each request opens a fresh one; the pod route always does)'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -s q -l quiet -d 'No live line on the terminal and no progress notes on stderr'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand failover" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l url -d 'Query this URL directly instead (ingress, load balancer, a local port)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l via -d 'How to reach NAME: proxy, pod (a tester pod in the cluster) or port-forward (one pod) [default: proxy]' -r -f -a "proxy\t'Through the API server\'s service proxy to <NAME>-serve-svc (no port-forward, no ingress)'
pod\t'From a tester pod in the namespace against <NAME>-serve-svc, like the guide\'s query.py'
port-forward\t'Port-forward to one pod\'s serve port (pins that pod and bypasses the Service)'"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l pod -d 'With --via port-forward: the pod to forward to [default: a ready worker pod of NAME]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l path -d 'Request path [default: /fruit/, or the path of --url]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -s X -l method -d 'HTTP method' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -s d -l data -d 'Request body [default: the guide\'s ["PEAR", 12]]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l data-file -d 'Request body from a file' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -s H -l header -d 'Extra request header, repeatable' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l expect -d 'Body every reply must have, whitespace-trimmed [default: 12 for the guide\'s request]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l expect-status -d 'Status every reply must have [default: any 2xx]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -s c -l concurrency -d 'Requests in flight at once [default: 1; 64 with --rate]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l rate -d 'Open loop: send R requests per second whatever the replies take' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l count -d 'Stop after N requests' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l duration -d 'Stop after this long, e.g. 30s or 2m [default: run until Ctrl-C]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l timeout -d 'Per-request timeout' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l keep-alive -d 'Reuse connections (=false: a fresh one per request) [default: fresh, so a Service balances each request anew; kept with --via port-forward, which pins one pod anyway]' -r -f -a "true\t''
false\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l max-failures -d 'Exit 1 when more than N requests fail' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -s o -l output -d 'Output format of the summary' -r -f -a "text\t''
json\t''"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l report -d 'Also write the whole report to FILE: a self-contained HTML page when FILE ends in .html, else JSON' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -s n -l namespace -d 'Namespace for the objects (default: the context\'s namespace)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l context -d 'Name of the kubeconfig context to use' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l request-timeout -d 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -l print-each -d 'Print the guide\'s `req_index : N, num_fail: F` line for every request'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -s q -l quiet -d 'No live line on the terminal'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand query" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand report" -s o -l output -d 'Output format' -r -f -a "text\t''
json\t''
html\t'One self-contained page: inline SVG charts, no script, nothing fetched'"
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand report" -l output-file -d 'Write to FILE instead of standard output' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand report" -s n -l namespace -d 'Namespace for the objects (default: the context\'s namespace)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand report" -l context -d 'Name of the kubeconfig context to use' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand report" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand report" -l request-timeout -d 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand report" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand completion" -s n -l namespace -d 'Namespace for the objects (default: the context\'s namespace)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand completion" -l context -d 'Name of the kubeconfig context to use' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand completion" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand completion" -l request-timeout -d 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand completion" -s h -l help -d 'Print help'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand __complete" -s n -l namespace -d 'Namespace for the objects (default: the context\'s namespace)' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand __complete" -l context -d 'Name of the kubeconfig context to use' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand __complete" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand __complete" -l request-timeout -d 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]' -r
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand __complete" -s h -l help -d 'Print help'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand help; and not __fish_seen_subcommand_from generate lint apply status list delete failover query report completion __complete help" -f -a "generate" -d 'Render the HA bundle: Redis, password Secret, RayService with GCS fault tolerance, tester'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand help; and not __fish_seen_subcommand_from generate lint apply status list delete failover query report completion __complete help" -f -a "lint" -d 'Check RayService manifests against the HA invariants and explain each miss'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand help; and not __fish_seen_subcommand_from generate lint apply status list delete failover query report completion __complete help" -f -a "apply" -d 'Server-side apply the HA bundle (or -f FILE): preflight, dry run, ordered apply, wait for Ready'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand help; and not __fish_seen_subcommand_from generate lint apply status list delete failover query report completion __complete help" -f -a "status" -d 'Show a RayService live: conditions, pods, serve endpoints, Serve replicas, HA checks'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand help; and not __fish_seen_subcommand_from generate lint apply status list delete failover query report completion __complete help" -f -a "list" -d 'List the RayServices kubectl-rayha manages, with Ready and the HA verdict'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand help; and not __fish_seen_subcommand_from generate lint apply status list delete failover query report completion __complete help" -f -a "delete" -d 'Delete everything kubectl-rayha created for a RayService (by its instance label)'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand help; and not __fish_seen_subcommand_from generate lint apply status list delete failover query report completion __complete help" -f -a "failover" -d 'The head-failure drill: query while the head pod is deleted, time the recovery, gate on it'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand help; and not __fish_seen_subcommand_from generate lint apply status list delete failover query report completion __complete help" -f -a "query" -d 'Send the guide\'s request in a loop (one in flight by default) and measure the answers'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand help; and not __fish_seen_subcommand_from generate lint apply status list delete failover query report completion __complete help" -f -a "report" -d 'Render a saved failover or query report (text, JSON, HTML), or compare two side by side'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand help; and not __fish_seen_subcommand_from generate lint apply status list delete failover query report completion __complete help" -f -a "completion" -d 'Print a shell completion script'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand help; and not __fish_seen_subcommand_from generate lint apply status list delete failover query report completion __complete help" -f -a "__complete" -d 'Cobra-style completion protocol used by kubectl (kubectl_complete-rayha)'
complete -c kubectl-rayha -n "__fish_kubectl_rayha_using_subcommand help; and not __fish_seen_subcommand_from generate lint apply status list delete failover query report completion __complete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
