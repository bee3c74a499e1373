package io.tether.ops;

import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.TestNodes;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The monitoring kit ({@code k8s/monitoring}) asks only for metrics a node exports: every metric its
 * alert rules and its dashboard name appears on the {@code /metrics} of a node that has done what they
 * watch (streams written and read, an answer with a tool call approved, a request refused). A renamed
 * metric would otherwise leave a dashboard panel empty and an alert silent, with nothing to say so.
 */
class MonitoringIT {

  private static final Pattern METRIC = Pattern.compile("\\b((?:tether|vertx|jvm|process)_[a-z0-9_]+)");
  private static final Duration DEADLINE = Duration.ofSeconds(60);

  @Test
  void everyMetricTheAlertsAndTheDashboardUseIsExported() throws Exception {
    Set<String> wanted = new TreeSet<>();
    wanted.addAll(metrics(ruleExpressions()));
    wanted.addAll(metrics(dashboardExpressions()));
    assertThat(wanted).as("metrics named by the monitoring kit").contains("tether_failovers_total",
        "tether_partitions_safe", "tether_route_timeouts_total", "tether_slow_consumers_cut_total",
        "jvm_memory_used_bytes");

    TetherNode node = TestNodes.start(Map.of("TETHER_MAX_APPEND_BYTES", "1024"));
    try (Http http = new Http(node.httpPort())) {
      // Streams written and read; an append over the size limit refused.
      assertThat(http.put("/v1/stream/monitored", "text/plain", null).status()).isEqualTo(201);
      assertThat(http.post("/v1/stream/monitored", "text/plain", "hello").status()).isEqualTo(204);
      assertThat(http.get("/v1/stream/monitored?offset=-1").body()).isEqualTo("hello");
      assertThat(http.post("/v1/stream/monitored", "text/plain", "x".repeat(4096)).status()).isEqualTo(413);

      // An answer with a tool call, approved.
      Resp created = http.request(HttpMethod.POST, "/v1/sessions", Map.of(), new byte[0]);
      assertThat(created.status()).isEqualTo(201);
      String id = created.json().getString("sessionId");
      Map<String, String> auth = Map.of("Authorization", "Bearer " + created.json().getString("token"),
          "Content-Type", "application/json");
      assertThat(http.request(HttpMethod.POST, "/v1/sessions/" + id + "/messages", auth,
          "{\"text\":\"What is the weather in Lisbon?\"}".getBytes(StandardCharsets.UTF_8)).status()).isEqualTo(200);
      await().atMost(DEADLINE).until(() -> tools(http, id, auth).size() == 1
          && "awaiting_approval".equals(tools(http, id, auth).getJsonObject(0).getString("state")));
      String callId = tools(http, id, auth).getJsonObject(0).getString("callId");
      assertThat(http.request(HttpMethod.POST, "/v1/sessions/" + id + "/tools/" + callId + "/approve", auth,
          new byte[0]).status()).isEqualTo(200);
      await().atMost(DEADLINE).until(() -> "completed".equals(http.get("/v1/sessions/" + id, auth).json()
          .getJsonObject("generation").getString("state")));

      String exposition = http.get("/metrics").body();
      Set<String> exported = exposition.lines().filter(l -> !l.startsWith("#") && !l.isBlank())
          .map(l -> l.split("[{ ]", 2)[0]).collect(Collectors.toCollection(TreeSet::new));
      assertThat(exported).as("metrics exported by a node").containsAll(wanted);
    } finally {
      TestNodes.stop(node);
    }
  }

  private static JsonArray tools(Http http, String id, Map<String, String> auth) {
    return http.get("/v1/sessions/" + id, auth).json().getJsonArray("tools");
  }

  private static Set<String> metrics(List<String> expressions) {
    Set<String> names = new TreeSet<>();
    for (String expr : expressions) {
      Matcher m = METRIC.matcher(expr);
      while (m.find()) {
        names.add(m.group(1));
      }
    }
    return names;
  }

  @SuppressWarnings("unchecked")
  private static List<String> ruleExpressions() throws Exception {
    Map<String, Object> rule = (Map<String, Object>) new Load(LoadSettings.builder().build())
        .loadFromString(Files.readString(Path.of("k8s/monitoring/prometheus-rules.yaml")));
    List<Map<String, Object>> groups = (List<Map<String, Object>>) ((Map<String, Object>) rule.get("spec")).get("groups");
    return groups.stream().flatMap(g -> ((List<Map<String, Object>>) g.get("rules")).stream())
        .map(r -> (String) r.get("expr")).toList();
  }

  private static List<String> dashboardExpressions() throws Exception {
    JsonObject dashboard = new JsonObject(Files.readString(Path.of("k8s/monitoring/tether-dashboard.json")));
    return dashboard.getJsonArray("panels").stream().map(JsonObject.class::cast)
        .flatMap(p -> p.getJsonArray("targets", new JsonArray()).stream())
        .map(t -> ((JsonObject) t).getString("expr")).toList();
  }
}
