package io.tether.transport;

import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.TestNodes;
import io.vertx.core.http.HttpMethod;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/** Idempotent producers over HTTP: retries never duplicate, zombies are fenced, gaps are reported. */
class ProducerIT {

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

  private static Resp produce(String path, String id, long epoch, long seq, String body) {
    return http.request(HttpMethod.POST, path, Map.of("Content-Type", "text/plain", "Producer-Id", id,
        "Producer-Epoch", Long.toString(epoch), "Producer-Seq", Long.toString(seq)),
        body.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void retriesOfEveryAppendAreAcknowledgedOnceAndStoredOnce() {
    String path = "/v1/stream/producer-" + UUID.randomUUID();
    http.put(path, "text/plain", null);
    for (int seq = 0; seq < 5; seq++) {
      Resp first = produce(path, "writer", 0, seq, "m" + seq + ";");
      assertThat(first.status()).isEqualTo(200);
      assertThat(first.header("Producer-Seq")).isEqualTo(Integer.toString(seq));
      Resp retry = produce(path, "writer", 0, seq, "m" + seq + ";");
      assertThat(retry.status()).isEqualTo(204);
      assertThat(retry.header("Stream-Next-Offset")).isEqualTo(first.header("Stream-Next-Offset"));
    }
    Resp oldRetry = produce(path, "writer", 0, 1, "m1;");
    assertThat(oldRetry.status()).isEqualTo(204);
    assertThat(oldRetry.header("Producer-Seq")).isEqualTo("4");
    assertThat(http.get(path).body()).isEqualTo("m0;m1;m2;m3;m4;");
  }

  @Test
  void concurrentRetriesOfTheSameBatchAppendItOnce() {
    String path = "/v1/stream/producer-race-" + UUID.randomUUID();
    http.put(path, "text/plain", null);
    List<CompletableFuture<Resp>> racing = IntStream.range(0, 8)
        .mapToObj(i -> CompletableFuture.supplyAsync(() -> produce(path, "racer", 0, 0, "once")))
        .toList();
    List<Integer> statuses = racing.stream().map(f -> f.join().status()).toList();
    assertThat(statuses).containsOnly(200, 204);
    assertThat(statuses).filteredOn(s -> s == 200).hasSize(1);
    assertThat(http.get(path).body()).isEqualTo("once");
  }

  @Test
  void aRestartedProducerFencesItsZombieAndAGapIsReportedWithTheExpectedSequence() {
    String path = "/v1/stream/producer-fence-" + UUID.randomUUID();
    http.put(path, "text/plain", null);
    assertThat(produce(path, "svc", 0, 0, "a").status()).isEqualTo(200);
    assertThat(produce(path, "svc", 1, 0, "b").status()).isEqualTo(200);
    Resp zombie = produce(path, "svc", 0, 1, "zombie");
    assertThat(zombie.status()).isEqualTo(403);
    assertThat(zombie.header("Producer-Epoch")).isEqualTo("1");
    Resp gap = produce(path, "svc", 1, 3, "d");
    assertThat(gap.status()).isEqualTo(409);
    assertThat(gap.header("Producer-Expected-Seq")).isEqualTo("1");
    assertThat(http.get(path).body()).isEqualTo("ab");
  }
}
