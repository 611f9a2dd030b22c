
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'kubectl-rayha' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'kubectl-rayha'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'kubectl-rayha' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Name of the kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Render the HA bundle: Redis, password Secret, RayService with GCS fault tolerance, tester')
            [CompletionResult]::new('lint', 'lint', [CompletionResultType]::ParameterValue, 'Check RayService manifests against the HA invariants and explain each miss')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Server-side apply the HA bundle (or -f FILE): preflight, dry run, ordered apply, wait for Ready')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show a RayService live: conditions, pods, serve endpoints, Serve replicas, HA checks')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the RayServices kubectl-rayha manages, with Ready and the HA verdict')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete everything kubectl-rayha created for a RayService (by its instance label)')
            [CompletionResult]::new('failover', 'failover', [CompletionResultType]::ParameterValue, 'The head-failure drill: query while the head pod is deleted, time the recovery, gate on it')
            [CompletionResult]::new('query', 'query', [CompletionResultType]::ParameterValue, 'Send the guide''s request in a loop (one in flight by default) and measure the answers')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'Render a saved failover or query report (text, JSON, HTML), or compare two side by side')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('__complete', '__complete', [CompletionResultType]::ParameterValue, 'Cobra-style completion protocol used by kubectl (kubectl_complete-rayha)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kubectl-rayha;generate' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'RayService name (DNS-1035 label, at most 47 characters) [default: rayservice-ha]')
            [CompletionResult]::new('--ray-version', '--ray-version', [CompletionResultType]::ParameterName, 'Ray version; also picks the image tag unless --image is given [default: 2.52.0]')
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'Ray container image; its tag must match --ray-version [default: rayproject/ray:<ray-version>]')
            [CompletionResult]::new('--kuberay-version', '--kuberay-version', [CompletionResultType]::ParameterName, 'KubeRay operator version the bundle targets; below 1.3 the legacy ft-enabled annotation is used [default: 1.7.0]')
            [CompletionResult]::new('--worker-replicas', '--worker-replicas', [CompletionResultType]::ParameterName, 'Worker pods (desired) [default: the largest replica count of any Serve deployment]')
            [CompletionResult]::new('--min-workers', '--min-workers', [CompletionResultType]::ParameterName, 'Worker group minReplicas [default: worker replicas]')
            [CompletionResult]::new('--max-workers', '--max-workers', [CompletionResultType]::ParameterName, 'Worker group maxReplicas [default: max(5, worker replicas)]')
            [CompletionResult]::new('--head-cpu', '--head-cpu', [CompletionResultType]::ParameterName, 'CPU request and limit of the head pod [default: 1]')
            [CompletionResult]::new('--head-memory', '--head-memory', [CompletionResultType]::ParameterName, 'Memory request of the head pod [default: 2Gi]')
            [CompletionResult]::new('--head-memory-limit', '--head-memory-limit', [CompletionResultType]::ParameterName, 'Memory limit of the head pod [default: 5Gi]')
            [CompletionResult]::new('--worker-cpu', '--worker-cpu', [CompletionResultType]::ParameterName, 'CPU request and limit of each worker pod [default: 1]')
            [CompletionResult]::new('--worker-memory', '--worker-memory', [CompletionResultType]::ParameterName, 'Memory request and limit of each worker pod [default: 2Gi]')
            [CompletionResult]::new('--serve-config', '--serve-config', [CompletionResultType]::ParameterName, 'Serve config file (the serveConfigV2 document); HA settings are enforced on every deployment')
            [CompletionResult]::new('--import-path', '--import-path', [CompletionResultType]::ParameterName, 'Import path of a single Serve application [default: the sample''s fruit app]')
            [CompletionResult]::new('--working-dir', '--working-dir', [CompletionResultType]::ParameterName, 'runtime_env working_dir of the single application ("" for none) [default: the sample''s zip]')
            [CompletionResult]::new('--deployments', '--deployments', [CompletionResultType]::ParameterName, 'Deployment names of the single application, comma separated [default: the fruit app''s four]')
            [CompletionResult]::new('--route-prefix', '--route-prefix', [CompletionResultType]::ParameterName, 'Route prefix of the single application [default: /fruit]')
            [CompletionResult]::new('--serve-replicas', '--serve-replicas', [CompletionResultType]::ParameterName, 'Replicas of each deployment of the single application (at least 2 for HA) [default: 2]')
            [CompletionResult]::new('--redis-address', '--redis-address', [CompletionResultType]::ParameterName, 'Use an existing Redis at HOST:PORT; no Redis objects are emitted')
            [CompletionResult]::new('--redis-password-secret', '--redis-password-secret', [CompletionResultType]::ParameterName, 'Use this existing Secret for the Redis password; no Secret is emitted')
            [CompletionResult]::new('--redis-password-key', '--redis-password-key', [CompletionResultType]::ParameterName, 'Key of the password inside the Secret [default: password]')
            [CompletionResult]::new('--redis-image', '--redis-image', [CompletionResultType]::ParameterName, 'Redis image [default: redis:7.4.0]')
            [CompletionResult]::new('--redis-storage', '--redis-storage', [CompletionResultType]::ParameterName, 'Size of the PersistentVolumeClaim that keeps Redis /data (and so the GCS state) across the loss of the Redis pod, or `none` for an emptyDir: then losing the pod loses every actor, and each worker restarts and each Serve replica is redeployed [default: 1Gi]')
            [CompletionResult]::new('--redis-storage-class', '--redis-storage-class', [CompletionResultType]::ParameterName, 'StorageClass of the Redis PVC; its volumes must attach on any node Redis may move to (network block storage, not node-local disks) [default: the cluster''s default class]')
            [CompletionResult]::new('--storage-class', '--storage-class', [CompletionResultType]::ParameterName, 'StorageClass of the Redis PVC; its volumes must attach on any node Redis may move to (network block storage, not node-local disks) [default: the cluster''s default class]')
            [CompletionResult]::new('--redis-tls', '--redis-tls', [CompletionResultType]::ParameterName, 'Redis speaks TLS only: a CA and a server certificate made for this bundle (ECDSA P-256, valid 5 years) go into the Secret <name>-redis-tls, Redis listens with TLS alone, and the GCS (and KubeRay''s Redis cleanup Job) connects to rediss:// and checks the certificate against the CA (RAY_REDIS_CA_CERT); the Redis password no longer crosses the network in clear text')
            [CompletionResult]::new('--external-storage-namespace', '--external-storage-namespace', [CompletionResultType]::ParameterName, 'Storage namespace for GCS state in Redis [default: chosen by KubeRay, the RayCluster UID]')
            [CompletionResult]::new('--spread', '--spread', [CompletionResultType]::ParameterName, 'Spread the worker pods over Kubernetes nodes (node), over zones and nodes (zone: nodes need topology.kubernetes.io/zone) or not at all (none: a one-node cluster such as kind or minikube; Redis then may share the head''s node) [default: node]')
            [CompletionResult]::new('--node-loss-toleration', '--node-loss-toleration', [CompletionResultType]::ParameterName, 'How long Redis stays on a node that is not ready or unreachable before it is deleted and replaced elsewhere, e.g. 30s (Kubernetes'' default: 300s; Ray pods keep it, since KubeRay replaces a lost node''s pod only once its object is gone) [default: 30s]')
            [CompletionResult]::new('--with-tester', '--with-tester', [CompletionResultType]::ParameterName, 'Also emit the tester pod and ConfigMap that run the one-in-flight query loop in the cluster')
            [CompletionResult]::new('--allow-non-ha', '--allow-non-ha', [CompletionResultType]::ParameterName, 'Generate even when the numbers cannot give HA (warns instead of refusing)')
            [CompletionResult]::new('--values', '--values', [CompletionResultType]::ParameterName, 'YAML file with the same keys as the flags (e.g. `worker-replicas: 3`); flags win')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output-dir', '--output-dir', [CompletionResultType]::ParameterName, 'Write one file per object into DIR instead of printing the bundle')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Name of the kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-rayha;lint' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Name of the kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-rayha;apply' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Apply the objects of this file (`-` for standard input) instead of a generated bundle')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'Apply the objects of this file (`-` for standard input) instead of a generated bundle')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'RayService name (DNS-1035 label, at most 47 characters) [default: rayservice-ha]')
            [CompletionResult]::new('--ray-version', '--ray-version', [CompletionResultType]::ParameterName, 'Ray version; also picks the image tag unless --image is given [default: 2.52.0]')
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'Ray container image; its tag must match --ray-version [default: rayproject/ray:<ray-version>]')
            [CompletionResult]::new('--kuberay-version', '--kuberay-version', [CompletionResultType]::ParameterName, 'KubeRay operator version the bundle targets; below 1.3 the legacy ft-enabled annotation is used [default: 1.7.0]')
            [CompletionResult]::new('--worker-replicas', '--worker-replicas', [CompletionResultType]::ParameterName, 'Worker pods (desired) [default: the largest replica count of any Serve deployment]')
            [CompletionResult]::new('--min-workers', '--min-workers', [CompletionResultType]::ParameterName, 'Worker group minReplicas [default: worker replicas]')
            [CompletionResult]::new('--max-workers', '--max-workers', [CompletionResultType]::ParameterName, 'Worker group maxReplicas [default: max(5, worker replicas)]')
            [CompletionResult]::new('--head-cpu', '--head-cpu', [CompletionResultType]::ParameterName, 'CPU request and limit of the head pod [default: 1]')
            [CompletionResult]::new('--head-memory', '--head-memory', [CompletionResultType]::ParameterName, 'Memory request of the head pod [default: 2Gi]')
            [CompletionResult]::new('--head-memory-limit', '--head-memory-limit', [CompletionResultType]::ParameterName, 'Memory limit of the head pod [default: 5Gi]')
            [CompletionResult]::new('--worker-cpu', '--worker-cpu', [CompletionResultType]::ParameterName, 'CPU request and limit of each worker pod [default: 1]')
            [CompletionResult]::new('--worker-memory', '--worker-memory', [CompletionResultType]::ParameterName, 'Memory request and limit of each worker pod [default: 2Gi]')
            [CompletionResult]::new('--serve-config', '--serve-config', [CompletionResultType]::ParameterName, 'Serve config file (the serveConfigV2 document); HA settings are enforced on every deployment')
            [CompletionResult]::new('--import-path', '--import-path', [CompletionResultType]::ParameterName, 'Import path of a single Serve application [default: the sample''s fruit app]')
            [CompletionResult]::new('--working-dir', '--working-dir', [CompletionResultType]::ParameterName, 'runtime_env working_dir of the single application ("" for none) [default: the sample''s zip]')
            [CompletionResult]::new('--deployments', '--deployments', [CompletionResultType]::ParameterName, 'Deployment names of the single application, comma separated [default: the fruit app''s four]')
            [CompletionResult]::new('--route-prefix', '--route-prefix', [CompletionResultType]::ParameterName, 'Route prefix of the single application [default: /fruit]')
            [CompletionResult]::new('--serve-replicas', '--serve-replicas', [CompletionResultType]::ParameterName, 'Replicas of each deployment of the single application (at least 2 for HA) [default: 2]')
            [CompletionResult]::new('--redis-address', '--redis-address', [CompletionResultType]::ParameterName, 'Use an existing Redis at HOST:PORT; no Redis objects are emitted')
            [CompletionResult]::new('--redis-password-secret', '--redis-password-secret', [CompletionResultType]::ParameterName, 'Use this existing Secret for the Redis password; no Secret is emitted')
            [CompletionResult]::new('--redis-password-key', '--redis-password-key', [CompletionResultType]::ParameterName, 'Key of the password inside the Secret [default: password]')
            [CompletionResult]::new('--redis-image', '--redis-image', [CompletionResultType]::ParameterName, 'Redis image [default: redis:7.4.0]')
            [CompletionResult]::new('--redis-storage', '--redis-storage', [CompletionResultType]::ParameterName, 'Size of the PersistentVolumeClaim that keeps Redis /data (and so the GCS state) across the loss of the Redis pod, or `none` for an emptyDir: then losing the pod loses every actor, and each worker restarts and each Serve replica is redeployed [default: 1Gi]')
            [CompletionResult]::new('--redis-storage-class', '--redis-storage-class', [CompletionResultType]::ParameterName, 'StorageClass of the Redis PVC; its volumes must attach on any node Redis may move to (network block storage, not node-local disks) [default: the cluster''s default class]')
            [CompletionResult]::new('--storage-class', '--storage-class', [CompletionResultType]::ParameterName, 'StorageClass of the Redis PVC; its volumes must attach on any node Redis may move to (network block storage, not node-local disks) [default: the cluster''s default class]')
            [CompletionResult]::new('--redis-tls', '--redis-tls', [CompletionResultType]::ParameterName, 'Redis speaks TLS only: a CA and a server certificate made for this bundle (ECDSA P-256, valid 5 years) go into the Secret <name>-redis-tls, Redis listens with TLS alone, and the GCS (and KubeRay''s Redis cleanup Job) connects to rediss:// and checks the certificate against the CA (RAY_REDIS_CA_CERT); the Redis password no longer crosses the network in clear text')
            [CompletionResult]::new('--external-storage-namespace', '--external-storage-namespace', [CompletionResultType]::ParameterName, 'Storage namespace for GCS state in Redis [default: chosen by KubeRay, the RayCluster UID]')
            [CompletionResult]::new('--spread', '--spread', [CompletionResultType]::ParameterName, 'Spread the worker pods over Kubernetes nodes (node), over zones and nodes (zone: nodes need topology.kubernetes.io/zone) or not at all (none: a one-node cluster such as kind or minikube; Redis then may share the head''s node) [default: node]')
            [CompletionResult]::new('--node-loss-toleration', '--node-loss-toleration', [CompletionResultType]::ParameterName, 'How long Redis stays on a node that is not ready or unreachable before it is deleted and replaced elsewhere, e.g. 30s (Kubernetes'' default: 300s; Ray pods keep it, since KubeRay replaces a lost node''s pod only once its object is gone) [default: 30s]')
            [CompletionResult]::new('--with-tester', '--with-tester', [CompletionResultType]::ParameterName, 'Also emit the tester pod and ConfigMap that run the one-in-flight query loop in the cluster')
            [CompletionResult]::new('--allow-non-ha', '--allow-non-ha', [CompletionResultType]::ParameterName, 'Generate even when the numbers cannot give HA (warns instead of refusing)')
            [CompletionResult]::new('--values', '--values', [CompletionResultType]::ParameterName, 'YAML file with the same keys as the generate flags; flags win')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Only show what would be applied: client (no cluster) or server (the API server validates it)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Print the applied objects in this format instead of one line per object')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Print the applied objects in this format instead of one line per object')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait until the RayService is Ready')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait, e.g. 10m')
            [CompletionResult]::new('--via', '--via', [CompletionResultType]::ParameterName, 'With --load: where the load comes from (proxy, pod, or both: proxy,pod)')
            [CompletionResult]::new('--max-failures', '--max-failures', [CompletionResultType]::ParameterName, 'With --load: failed requests allowed for the verdict to pass')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'With --load: request path')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'With --load: request body [default: the guide''s ["PEAR", 12]]')
            [CompletionResult]::new('--expect', '--expect', [CompletionResultType]::ParameterName, 'With --load: body every reply must have [default: 12 for the guide''s request]')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'With --load: also write the report to FILE (HTML when it ends in .html, else JSON)')
            [CompletionResult]::new('--junit', '--junit', [CompletionResultType]::ParameterName, 'With --load: also write a JUnit XML file for CI systems')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Name of the kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]')
            [CompletionResult]::new('--force-conflicts', '--force-conflicts', [CompletionResultType]::ParameterName, 'Take over fields another field manager owns')
            [CompletionResult]::new('--load', '--load', [CompletionResultType]::ParameterName, 'Measure the rollout: query the running RayService while the change is applied and KubeRay rolls it out, then report as `failover` does (-o json prints the report)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-rayha;status' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: text]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: text]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Name of the kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Print again whenever the RayService or its pods change (Ctrl-C to stop)')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'Print again whenever the RayService or its pods change (Ctrl-C to stop)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-rayha;list' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: a table]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: a table]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Name of the kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List in every namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List in every namespace')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-rayha;delete' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for KubeRay''s cleanup (RayCluster and Redis keys) and for every object (and the Redis and tester pods) to be gone, e.g. 5m')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Name of the kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-rayha;failover' {
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'What to kill')
            [CompletionResult]::new('--node-of', '--node-of', [CompletionResultType]::ParameterName, 'With --target node: whose node to drain')
            [CompletionResult]::new('--node', '--node', [CompletionResultType]::ParameterName, 'With --target node: drain this node (it must run exactly one pod of the RayService)')
            [CompletionResult]::new('--drain-timeout', '--drain-timeout', [CompletionResultType]::ParameterName, 'With --target node: how long the drain keeps evicting (a disruption budget may refuse)')
            [CompletionResult]::new('--grace-period', '--grace-period', [CompletionResultType]::ParameterName, 'Grace period for the pod deletion in seconds [default: the pod''s own]')
            [CompletionResult]::new('--warmup', '--warmup', [CompletionResultType]::ParameterName, 'Load before the kill')
            [CompletionResult]::new('--settle', '--settle', [CompletionResultType]::ParameterName, 'Load kept after full recovery')
            [CompletionResult]::new('--recovery-timeout', '--recovery-timeout', [CompletionResultType]::ParameterName, 'Longest wait for full recovery per round [default: 5m; 15m for --target upgrade, whose new cluster starts beside the old one]')
            [CompletionResult]::new('--max-failures', '--max-failures', [CompletionResultType]::ParameterName, 'Failed requests allowed over all rounds for the verdict to pass')
            [CompletionResult]::new('--max-recovery', '--max-recovery', [CompletionResultType]::ParameterName, 'Recovery seconds allowed per round for the verdict to pass')
            [CompletionResult]::new('--rounds', '--rounds', [CompletionResultType]::ParameterName, 'Repeat the drill N times, waiting for full recovery in between')
            [CompletionResult]::new('--via', '--via', [CompletionResultType]::ParameterName, 'Where the load comes from: proxy, pod (a tester pod in the cluster, kept off the node the round takes down), or both at once (proxy,pod), each reported apart and together')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Query this URL instead of <NAME>-serve-svc through the API server (takes the place of the proxy route)')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Request path')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Request body [default: the guide''s ["PEAR", 12]]')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Request body [default: the guide''s ["PEAR", 12]]')
            [CompletionResult]::new('--expect', '--expect', [CompletionResultType]::ParameterName, 'Body every reply must have [default: 12 for the guide''s request]')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Requests in flight at once on the proxy or --url route (the pod route keeps one)')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Requests in flight at once on the proxy or --url route (the pod route keeps one)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of the report')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of the report')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'Also write the whole report to FILE: a self-contained HTML page when FILE ends in .html, else JSON')
            [CompletionResult]::new('--junit', '--junit', [CompletionResultType]::ParameterName, 'Also write a JUnit XML file (one test case per round) for CI systems')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Name of the kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Run the drill even without GCS fault tolerance (to see what it costs)')
            [CompletionResult]::new('--keep-alive', '--keep-alive', [CompletionResultType]::ParameterName, 'With --url: reuse connections (by default each request opens a fresh one; the pod route always does)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No live line on the terminal and no progress notes on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No live line on the terminal and no progress notes on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-rayha;query' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Query this URL directly instead (ingress, load balancer, a local port)')
            [CompletionResult]::new('--via', '--via', [CompletionResultType]::ParameterName, 'How to reach NAME: proxy, pod (a tester pod in the cluster) or port-forward (one pod) [default: proxy]')
            [CompletionResult]::new('--pod', '--pod', [CompletionResultType]::ParameterName, 'With --via port-forward: the pod to forward to [default: a ready worker pod of NAME]')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Request path [default: /fruit/, or the path of --url]')
            [CompletionResult]::new('-X', '-X ', [CompletionResultType]::ParameterName, 'HTTP method')
            [CompletionResult]::new('--method', '--method', [CompletionResultType]::ParameterName, 'HTTP method')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Request body [default: the guide''s ["PEAR", 12]]')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Request body [default: the guide''s ["PEAR", 12]]')
            [CompletionResult]::new('--data-file', '--data-file', [CompletionResultType]::ParameterName, 'Request body from a file')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Extra request header, repeatable')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Extra request header, repeatable')
            [CompletionResult]::new('--expect', '--expect', [CompletionResultType]::ParameterName, 'Body every reply must have, whitespace-trimmed [default: 12 for the guide''s request]')
            [CompletionResult]::new('--expect-status', '--expect-status', [CompletionResultType]::ParameterName, 'Status every reply must have [default: any 2xx]')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Requests in flight at once [default: 1; 64 with --rate]')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Requests in flight at once [default: 1; 64 with --rate]')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'Open loop: send R requests per second whatever the replies take')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Stop after N requests')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Stop after this long, e.g. 30s or 2m [default: run until Ctrl-C]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-request timeout')
            [CompletionResult]::new('--keep-alive', '--keep-alive', [CompletionResultType]::ParameterName, 'Reuse connections (=false: a fresh one per request) [default: fresh, so a Service balances each request anew; kept with --via port-forward, which pins one pod anyway]')
            [CompletionResult]::new('--max-failures', '--max-failures', [CompletionResultType]::ParameterName, 'Exit 1 when more than N requests fail')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of the summary')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of the summary')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'Also write the whole report to FILE: a self-contained HTML page when FILE ends in .html, else JSON')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Name of the kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]')
            [CompletionResult]::new('--print-each', '--print-each', [CompletionResultType]::ParameterName, 'Print the guide''s `req_index : N, num_fail: F` line for every request')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No live line on the terminal')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No live line on the terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-rayha;report' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output-file', '--output-file', [CompletionResultType]::ParameterName, 'Write to FILE instead of standard output')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Name of the kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-rayha;completion' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Name of the kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-rayha;__complete' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the objects (default: the context''s namespace)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Name of the kubeconfig context to use')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its queries, 5s by default) [default: 30s]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-rayha;help' {
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Render the HA bundle: Redis, password Secret, RayService with GCS fault tolerance, tester')
            [CompletionResult]::new('lint', 'lint', [CompletionResultType]::ParameterValue, 'Check RayService manifests against the HA invariants and explain each miss')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Server-side apply the HA bundle (or -f FILE): preflight, dry run, ordered apply, wait for Ready')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show a RayService live: conditions, pods, serve endpoints, Serve replicas, HA checks')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the RayServices kubectl-rayha manages, with Ready and the HA verdict')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete everything kubectl-rayha created for a RayService (by its instance label)')
            [CompletionResult]::new('failover', 'failover', [CompletionResultType]::ParameterValue, 'The head-failure drill: query while the head pod is deleted, time the recovery, gate on it')
            [CompletionResult]::new('query', 'query', [CompletionResultType]::ParameterValue, 'Send the guide''s request in a loop (one in flight by default) and measure the answers')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'Render a saved failover or query report (text, JSON, HTML), or compare two side by side')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('__complete', '__complete', [CompletionResultType]::ParameterValue, 'Cobra-style completion protocol used by kubectl (kubectl_complete-rayha)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kubectl-rayha;help;generate' {
            break
        }
        'kubectl-rayha;help;lint' {
            break
        }
        'kubectl-rayha;help;apply' {
            break
        }
        'kubectl-rayha;help;status' {
            break
        }
        'kubectl-rayha;help;list' {
            break
        }
        'kubectl-rayha;help;delete' {
            break
        }
        'kubectl-rayha;help;failover' {
            break
        }
        'kubectl-rayha;help;query' {
            break
        }
        'kubectl-rayha;help;report' {
            break
        }
        'kubectl-rayha;help;completion' {
            break
        }
        'kubectl-rayha;help;__complete' {
            break
        }
        'kubectl-rayha;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
