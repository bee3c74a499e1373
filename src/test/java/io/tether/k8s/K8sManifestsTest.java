package io.tether.k8s;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.HTTPGetAction;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.CronJob;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.openshift.api.model.monitoring.v1.PodMonitor;
import io.fabric8.openshift.api.model.monitoring.v1.PrometheusRule;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The Kubernetes manifests, validated offline: every object of the rendered base, of the API-discovery
 * overlay, of the ingress examples, of the pod killer and of the monitoring kit must be a valid object of its Kubernetes type
 * (no unknown or misplaced field), and the objects must fit together.
 */
class K8sManifestsTest {

  private static final Path K8S = Path.of("k8s");
  private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

  private static List<HasMetadata> typed(List<Map<String, Object>> objects) {
    List<HasMetadata> out = new ArrayList<>();
    for (Map<String, Object> object : objects) {
      String json = new JsonObject(object).encode();
      Object typed = SERIALIZATION.unmarshal(json);
      assertThat(typed).as("%s %s is a known Kubernetes type", object.get("kind"), Kustomize.name(object))
          .isInstanceOf(HasMetadata.class);
      List<String> unknown = new ArrayList<>();
      unknownFields(typed, object.get("kind") + "/" + Kustomize.name(object), unknown, new IdentityHashMap<>());
      assertThat(unknown).as("fields that %s does not have", object.get("kind")).isEmpty();
      out.add((HasMetadata) typed);
    }
    return out;
  }

  /** Fields a model class does not declare land in its additional properties: collect their paths. */
  private static void unknownFields(Object value, String path, List<String> unknown, Map<Object, Boolean> seen) {
    if (value == null || seen.put(value, true) != null) {
      return;
    }
    if (value instanceof Collection<?> items) {
      int i = 0;
      for (Object item : items) {
        unknownFields(item, path + "[" + i++ + "]", unknown, seen);
      }
      return;
    }
    if (value instanceof Map<?, ?> map) {
      map.forEach((k, v) -> unknownFields(v, path + "." + k, unknown, seen));
      return;
    }
    if (!value.getClass().getPackageName().startsWith("io.fabric8.kubernetes.api.model")) {
      return;
    }
    for (Method getter : value.getClass().getMethods()) {
      if (getter.getParameterCount() != 0 || Modifier.isStatic(getter.getModifiers())
          || !getter.getName().startsWith("get") || getter.getDeclaringClass() == Object.class) {
        continue;
      }
      Object child;
      try {
        child = getter.invoke(value);
      } catch (ReflectiveOperationException e) {
        continue;
      }
      if (getter.getName().equals("getAdditionalProperties")) {
        if (child instanceof Map<?, ?> extra && !extra.isEmpty()) {
          unknown.add(path + ": " + extra.keySet());
        }
      } else {
        unknownFields(child, path + "." + getter.getName().substring(3), unknown, seen);
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static <T extends HasMetadata> T one(List<HasMetadata> objects, Class<T> type, String name) {
    return (T) objects.stream().filter(o -> type.isInstance(o) && o.getMetadata().getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " " + name));
  }

  private static String env(Container container, String name) {
    return container.getEnv().stream().filter(e -> e.getName().equals(name)).map(EnvVar::getValue).findFirst().orElse(null);
  }

  private static boolean selects(Map<String, String> selector, Map<String, String> labels) {
    return !selector.isEmpty() && labels.entrySet().containsAll(selector.entrySet());
  }

  @Test
  void theBaseRendersToValidObjectsThatFitTogether() throws IOException {
    List<HasMetadata> objects = typed(Kustomize.render(K8S.resolve("base")));
    StatefulSet set = one(objects, StatefulSet.class, "tether");
    Service client = one(objects, Service.class, "tether");
    Service discovery = one(objects, Service.class, "tether-hazelcast");
    PodDisruptionBudget pdb = one(objects, PodDisruptionBudget.class, "tether");
    Map<String, String> podLabels = set.getSpec().getTemplate().getMetadata().getLabels();
    Container tether = set.getSpec().getTemplate().getSpec().getContainers().get(0);
    Set<String> portNames = tether.getPorts().stream().map(p -> p.getName()).collect(Collectors.toSet());

    // Selectors select the pods.
    assertThat(selects(set.getSpec().getSelector().getMatchLabels(), podLabels)).isTrue();
    assertThat(selects(client.getSpec().getSelector(), podLabels)).isTrue();
    assertThat(selects(discovery.getSpec().getSelector(), podLabels)).isTrue();
    assertThat(selects(pdb.getSpec().getSelector().getMatchLabels(), podLabels)).isTrue();

    // Probes and services point at ports the container has, and those are the ports Tether listens on.
    for (HTTPGetAction probe : List.of(tether.getReadinessProbe().getHttpGet(), tether.getLivenessProbe().getHttpGet(),
        tether.getStartupProbe().getHttpGet())) {
      assertThat(portNames).contains(probe.getPort().getStrVal());
    }
    assertThat(tether.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/health/ready");
    assertThat(tether.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/health/live");
    for (ServicePort port : List.of(client.getSpec().getPorts().get(0), discovery.getSpec().getPorts().get(0))) {
      assertThat(portNames).contains(port.getTargetPort().getStrVal());
    }
    int http = tether.getPorts().stream().filter(p -> p.getName().equals("http")).findFirst().orElseThrow().getContainerPort();
    int hazelcast = tether.getPorts().stream().filter(p -> p.getName().equals("hazelcast")).findFirst().orElseThrow()
        .getContainerPort();
    assertThat(env(tether, "TETHER_HTTP_PORT")).isEqualTo(Integer.toString(http));
    assertThat(env(tether, "TETHER_CLUSTER_PORT")).isEqualTo(Integer.toString(hazelcast));

    // Discovery: the headless service is the one cluster.xml resolves, and it lists starting pods.
    assertThat(discovery.getSpec().getClusterIP()).isEqualTo("None");
    assertThat(discovery.getSpec().getPublishNotReadyAddresses()).isTrue();
    assertThat(set.getSpec().getServiceName()).isEqualTo("tether-hazelcast");
    assertThat(env(tether, "TETHER_DISCOVERY")).isEqualTo("kubernetes");
    assertThat(env(tether, "TETHER_K8S_SERVICE_DNS")).startsWith(discovery.getMetadata().getName() + ".");
    assertThat(Files.readString(Path.of("cluster.xml"))).contains("<service-dns>${tether.k8s.service.dns}</service-dns>");

    // Three members; the budget lets exactly one go at a time.
    int replicas = set.getSpec().getReplicas();
    assertThat(replicas).isEqualTo(3);
    int allowed = pdb.getSpec().getMaxUnavailable() != null ? pdb.getSpec().getMaxUnavailable().getIntVal()
        : replicas - pdb.getSpec().getMinAvailable().getIntVal();
    assertThat(allowed).isEqualTo(1);

    // The grace period covers the preStop pause and Hazelcast's graceful shutdown.
    Matcher wait = Pattern.compile("hazelcast.graceful.shutdown.max.wait\">(\\d+)<").matcher(Files.readString(Path.of("cluster.xml")));
    assertThat(wait.find()).isTrue();
    long preStop = Long.parseLong(tether.getLifecycle().getPreStop().getExec().getCommand().get(1));
    assertThat(set.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds())
        .isGreaterThan(preStop + Long.parseLong(wait.group(1)));

    // The JVM sizes itself from the container's memory limit; the pod runs as non-root.
    assertThat(tether.getResources().getLimits()).containsKey("memory");
    String jvm = env(tether, "JAVA_TOOL_OPTIONS");
    Matcher initial = Pattern.compile("-XX:InitialRAMPercentage=(\\d+)").matcher(jvm);
    Matcher max = Pattern.compile("-XX:MaxRAMPercentage=(\\d+)").matcher(jvm);
    assertThat(max.find()).as("heap sized from the limit: %s", jvm).isTrue();
    // The whole heap touched at start: a new pod does not fault in fresh pages under its first load.
    assertThat(initial.find()).as("initial heap set: %s", jvm).isTrue();
    assertThat(initial.group(1)).isEqualTo(max.group(1));
    assertThat(jvm).contains("-XX:+AlwaysPreTouch");
    // The heap on transparent huge pages: a few per cent less CPU per append (docs/benchmarks/cpu.md).
    assertThat(jvm).contains("-XX:+UseTransparentHugePages");
    assertThat(set.getSpec().getTemplate().getSpec().getSecurityContext().getRunAsNonRoot()).isTrue();
    assertThat(tether.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
    assertThat(tether.getVolumeMounts()).anyMatch(m -> m.getMountPath().equals("/tmp"));
    assertThat(set.getSpec().getTemplate().getSpec().getAffinity().getPodAntiAffinity()).isNotNull();

    // The event bus listens where the container says, over TLS with the mounted cluster certificate;
    // plain streams need credentials to be written.
    int eventBus = tether.getPorts().stream().filter(p -> p.getName().equals("eventbus")).findFirst().orElseThrow()
        .getContainerPort();
    assertThat(env(tether, "TETHER_EVENTBUS_PORT")).isEqualTo(Integer.toString(eventBus));
    String tlsMount = tether.getVolumeMounts().stream().filter(m -> m.getName().equals("cluster-tls")).findFirst()
        .orElseThrow().getMountPath();
    assertThat(env(tether, "TETHER_CLUSTER_TLS_CERT")).startsWith(tlsMount + "/");
    assertThat(env(tether, "TETHER_CLUSTER_TLS_KEY")).startsWith(tlsMount + "/");
    assertThat(set.getSpec().getTemplate().getSpec().getVolumes()).anyMatch(v -> v.getName().equals("cluster-tls")
        && v.getSecret() != null && "tether-cluster-tls".equals(v.getSecret().getSecretName()));
    assertThat(env(tether, "TETHER_STREAM_AUTH")).isIn("writes", "all");

    // The member and event-bus ports admit Tether pods only; HTTP admits anyone.
    NetworkPolicy policy = one(objects, NetworkPolicy.class, "tether");
    assertThat(selects(policy.getSpec().getPodSelector().getMatchLabels(), podLabels)).isTrue();
    assertThat(policy.getSpec().getPolicyTypes()).contains("Ingress");
    for (int memberPort : List.of(hazelcast, eventBus)) {
      var rules = policy.getSpec().getIngress().stream()
          .filter(r -> r.getPorts().stream().anyMatch(p -> p.getPort().getIntVal() == memberPort)).toList();
      assertThat(rules).as("rules admitting port %d", memberPort).isNotEmpty().allSatisfy(rule -> {
        assertThat(rule.getFrom()).isNotEmpty().allSatisfy(peer -> {
          assertThat(peer.getIpBlock()).isNull();
          assertThat(peer.getNamespaceSelector()).isNull();
          assertThat(selects(peer.getPodSelector().getMatchLabels(), podLabels)).isTrue();
        });
      });
    }
    assertThat(policy.getSpec().getIngress()).anyMatch(r -> (r.getFrom() == null || r.getFrom().isEmpty())
        && r.getPorts().stream().anyMatch(p -> p.getPort().getIntVal() == http));

    // DNS discovery needs no API access.
    assertThat(one(objects, ServiceAccount.class, "tether").getAutomountServiceAccountToken()).isFalse();
    assertThat(set.getSpec().getTemplate().getSpec().getServiceAccountName()).isEqualTo("tether");
  }

  @Test
  void theApiDiscoveryOverlayAddsItsRbacAndSwitchesTheJoin() {
    List<HasMetadata> objects = typed(Kustomize.render(K8S.resolve("overlays/api-discovery")));
    StatefulSet set = one(objects, StatefulSet.class, "tether");
    Container tether = set.getSpec().getTemplate().getSpec().getContainers().get(0);
    assertThat(env(tether, "TETHER_DISCOVERY")).isEqualTo("kubernetes-api");
    assertThat(env(tether, "TETHER_K8S_SERVICE_NAME")).isEqualTo("tether-hazelcast");
    assertThat(env(tether, "TETHER_HTTP_PORT")).as("base env kept").isEqualTo("8080");
    Role role = one(objects, Role.class, "tether-discovery");
    assertThat(role.getRules()).anyMatch(r -> r.getResources().contains("endpoints") && r.getVerbs().contains("list"));
    RoleBinding binding = one(objects, RoleBinding.class, "tether-discovery");
    assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
    assertThat(binding.getSubjects()).anyMatch(s -> s.getName().equals(set.getSpec().getTemplate().getSpec().getServiceAccountName()));
    assertThat(one(objects, ServiceAccount.class, "tether").getAutomountServiceAccountToken()).isTrue();
    one(objects, Service.class, "tether-hazelcast");
  }

  @Test
  void theIngressExamplesRouteToTheClientServiceAndRaiseIdleTimeouts() {
    List<HasMetadata> base = typed(Kustomize.render(K8S.resolve("base")));
    Service client = one(base, Service.class, "tether");
    for (String file : List.of("ingress-nginx.yaml", "aws-alb.yaml")) {
      Ingress ingress = (Ingress) typed(Kustomize.documents(K8S.resolve("ingress").resolve(file))).get(0);
      var backend = ingress.getSpec().getRules().get(0).getHttp().getPaths().get(0).getBackend().getService();
      assertThat(backend.getName()).isEqualTo(client.getMetadata().getName());
      assertThat(client.getSpec().getPorts()).anyMatch(p -> p.getName().equals(backend.getPort().getName()));
      Map<String, String> annotations = ingress.getMetadata().getAnnotations();
      assertThat(annotations.keySet()).anyMatch(k -> k.contains("timeout") || k.contains("load-balancer-attributes"));
    }
  }

  @Test
  void thePodKillerMayDeleteTheTetherPodsAndNothingElse() {
    List<HasMetadata> objects = typed(Kustomize.documents(K8S.resolve("chaos/pod-killer.yaml")));
    CronJob job = one(objects, CronJob.class, "tether-pod-killer");
    Role role = one(objects, Role.class, "tether-pod-killer");
    assertThat(role.getRules()).singleElement().satisfies(rule -> {
      assertThat(rule.getResources()).containsExactly("pods");
      assertThat(rule.getVerbs()).contains("delete");
    });
    RoleBinding binding = one(objects, RoleBinding.class, "tether-pod-killer");
    String account = job.getSpec().getJobTemplate().getSpec().getTemplate().getSpec().getServiceAccountName();
    assertThat(binding.getSubjects()).anyMatch(s -> s.getName().equals(account));
    one(objects, ServiceAccount.class, account);
    String script = String.join(" ", job.getSpec().getJobTemplate().getSpec().getTemplate().getSpec().getContainers().get(0)
        .getCommand());
    StatefulSet set = one(typed(Kustomize.render(K8S.resolve("base"))), StatefulSet.class, "tether");
    set.getSpec().getTemplate().getMetadata().getLabels().forEach((k, v) -> assertThat(script).contains(k + "=" + v));
  }

  @Test
  void theMonitoringKitScrapesThePodsAndAlertsOnWhatMatters() {
    List<HasMetadata> objects = typed(Kustomize.render(K8S.resolve("monitoring")));
    StatefulSet set = one(typed(Kustomize.render(K8S.resolve("base"))), StatefulSet.class, "tether");
    var pod = set.getSpec().getTemplate();
    Container container = pod.getSpec().getContainers().get(0);

    PodMonitor monitor = one(objects, PodMonitor.class, "tether");
    assertThat(selects(monitor.getSpec().getSelector().getMatchLabels(), pod.getMetadata().getLabels()))
        .as("the PodMonitor selects the Tether pods").isTrue();
    assertThat(monitor.getSpec().getPodMetricsEndpoints()).singleElement().satisfies(endpoint -> {
      assertThat(container.getPorts()).anyMatch(p -> p.getName().equals(endpoint.getPort()));
      assertThat(endpoint.getPath()).isEqualTo("/metrics");
      // /metrics wants the metrics token: the scrape sends the one the pods read from their Secret.
      assertThat(endpoint.getAuthorization().getCredentials().getKey()).isEqualTo("TETHER_METRICS_TOKEN");
      assertThat(container.getEnvFrom()).anyMatch(from -> from.getSecretRef() != null
          && from.getSecretRef().getName().equals(endpoint.getAuthorization().getCredentials().getName()));
    });

    PrometheusRule rules = one(objects, PrometheusRule.class, "tether");
    var alerts = rules.getSpec().getGroups().stream().flatMap(g -> g.getRules().stream()).toList();
    assertThat(alerts).extracting(r -> r.getAlert()).contains("TetherOwnerFailovers", "TetherPartitionsUnreplicated",
        "TetherRouteTimeouts", "TetherSlowConsumerCuts", "TetherHeapHigh");
    assertThat(alerts).allSatisfy(r -> {
      assertThat(r.getExpr().getStrVal()).as(r.getAlert()).isNotBlank();
      assertThat(r.getLabels()).as(r.getAlert()).containsKey("severity");
      assertThat(r.getAnnotations()).as(r.getAlert()).containsKeys("summary", "description");
    });

    ConfigMap dashboard = one(objects, ConfigMap.class, "tether-dashboard");
    assertThat(dashboard.getMetadata().getLabels()).containsEntry("grafana_dashboard", "1");
    JsonObject json = new JsonObject(dashboard.getData().get("tether-dashboard.json"));
    var panels = json.getJsonArray("panels").stream().map(JsonObject.class::cast)
        .filter(p -> !"row".equals(p.getString("type"))).toList();
    assertThat(panels).isNotEmpty().allSatisfy(p -> assertThat(p.getJsonArray("targets")).as(p.getString("title"))
        .isNotEmpty().allSatisfy(t -> assertThat(((JsonObject) t).getString("expr")).isNotBlank()));
  }

  @Test
  void theRenderingMatchesKubectlKustomizeWhereKubectlIsInstalled() throws Exception {
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/kubectl")) || Files.isExecutable(Path.of("/usr/local/bin/kubectl")),
        "kubectl is not installed");
    for (String dir : List.of("base", "overlays/api-discovery", "monitoring")) {
      Process process = new ProcessBuilder("kubectl", "kustomize", K8S.resolve(dir).toString()).redirectErrorStream(true).start();
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(process.exitValue()).as(output).isZero();
      Path rendered = Files.createTempFile("kustomize", ".yaml");
      Files.writeString(rendered, output);
      assertThat(normalized(Kustomize.documents(rendered))).as(dir).isEqualTo(normalized(Kustomize.render(K8S.resolve(dir))));
    }
  }

  /** Objects as canonical JSON, sorted, with lists of named items sorted by name (their order is not meaningful). */
  private static List<String> normalized(List<Map<String, Object>> objects) {
    return objects.stream().map(o -> canonical(o).encode()).sorted(Comparator.naturalOrder()).toList();
  }

  @SuppressWarnings("unchecked")
  private static JsonObject canonical(Map<String, Object> object) {
    JsonObject out = new JsonObject();
    object.keySet().stream().sorted().forEach(key -> out.put(key, canonicalValue(object.get(key))));
    return out;
  }

  @SuppressWarnings("unchecked")
  private static Object canonicalValue(Object value) {
    if (value instanceof Map<?, ?> map) {
      return canonical((Map<String, Object>) map);
    }
    if (value instanceof List<?> list) {
      List<Object> items = list.stream().map(K8sManifestsTest::canonicalValue).collect(Collectors.toCollection(ArrayList::new));
      if (!items.isEmpty() && items.stream().allMatch(i -> i instanceof JsonObject j && j.getString("name") != null)) {
        items.sort(Comparator.comparing(i -> ((JsonObject) i).getString("name")));
      }
      return new io.vertx.core.json.JsonArray(items);
    }
    return value;
  }
}
