package io.tether.ops;

import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.TestNodes;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Health, readiness, metrics and the admin owner look-up. */
class OpsIT {

  private static TetherNode node;
  private static Http http;

  @BeforeAll
  static void start() {
    node = TestNodes.start(Map.of());
    http = new Http(node.httpPort());
  }

  @AfterAll
  static void stop() {
    http.close();
    TestNodes.stop(node);
  }

  @Test
  void livenessAndReadinessIdentifyTheNode() {
    assertThat(http.get("/health/live").status()).isEqualTo(200);
    Resp ready = http.get("/health/ready");
    assertThat(ready.status()).isEqualTo(200);
    JsonObject body = ready.json();
    assertThat(body.getString("nodeId")).isEqualTo(node.nodeId());
    assertThat(body.getLong("pid")).isEqualTo(ProcessHandle.current().pid());
    assertThat(body.getInteger("httpPort")).isEqualTo(node.httpPort());
    assertThat(body.getBoolean("partitionsSafe")).isTrue();
    assertThat(body.getBoolean("settled")).isTrue();
    assertThat(body.getBoolean("joined")).isTrue();
    assertThat(body.getBoolean("quorum")).isTrue();
  }

  @Test
  void adminDescribesTheCluster() {
    Resp view = http.get("/v1/admin/cluster");
    assertThat(view.status()).isEqualTo(200);
    JsonObject body = view.json();
    assertThat(body.getString("nodeId")).isEqualTo(node.nodeId());
    assertThat(body.getJsonArray("members").stream().map(String::valueOf).toList()).containsExactly(node.nodeId());
    assertThat(body.getBoolean("partitionsSafe")).isTrue();
    assertThat(body.getInteger("localPrimaryPartitions")).isEqualTo(271);
  }

  @Test
  void metricsExposeTheDocumentedMeters() {
    http.put("/v1/stream/ops-metrics", "text/plain", "x");
    http.post("/v1/stream/ops-metrics", "text/plain", "y");
    http.get("/v1/stream/ops-metrics");
    Resp metrics = http.get("/metrics");
    assertThat(metrics.status()).isEqualTo(200);
    assertThat(metrics.body()).contains(
        "tether_appends_total", "tether_append_latency_seconds", "tether_replay_events",
        "tether_stream_owners", "tether_owner_passivations_total", "tether_connections{transport=\"sse\"}", "tether_connections{transport=\"websocket\"}",
        "tether_connections{transport=\"long-poll\"}", "tether_ownership_claims_total", "tether_failovers_total",
        "vertx_http_server_requests_total");
    assertThat(metrics.body()).containsPattern("tether_appends_total [1-9]");
  }

  @Test
  void adminDescribesTheOwnerOfAStream() {
    http.put("/v1/stream/ops-admin", "text/plain", "hello");
    Resp admin = http.get("/v1/admin/streams/ops-admin");
    assertThat(admin.status()).isEqualTo(200);
    JsonObject body = admin.json();
    assertThat(body.getJsonObject("owner").getString("nodeId")).isEqualTo(node.nodeId());
    assertThat(body.getJsonObject("owner").getInteger("httpPort")).isEqualTo(node.httpPort());
    assertThat(body.getJsonObject("owner").getLong("pid")).isEqualTo(ProcessHandle.current().pid());
    assertThat(body.getLong("epoch")).isPositive();
    assertThat(body.getString("firstOffset")).isEqualTo("0000000000000000_0000000000000000");
    assertThat(body.getString("nextOffset")).isEqualTo("0000000000000001_0000000000000005");
  }
}
