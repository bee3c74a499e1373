package io.tether.transport;

import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.TestNodes;
import io.vertx.core.http.HttpMethod;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** A member holds at most TETHER_MAX_STREAMS_PER_NODE streams; past it, creating one is a clear 429. */
class StreamLimitIT {

  private static final int LIMIT = 5;
  private static TetherNode node;
  private static Http http;

  @BeforeAll
  static void start() {
    node = TestNodes.start(Map.of("TETHER_MAX_STREAMS_PER_NODE", Integer.toString(LIMIT)));
    http = new Http(node.httpPort());
  }

  @AfterAll
  static void stop() {
    if (http != null) {
      http.close();
    }
    TestNodes.stop(node);
  }

  @Test
  void creatingPastTheLimitIsRefusedAndAFreedPlaceCanBeTaken() {
    String first = null;
    for (int i = 0; i < LIMIT; i++) {
      String path = "/v1/stream/limited-" + UUID.randomUUID();
      assertThat(http.put(path, "text/plain", null).status()).isEqualTo(201);
      first = first == null ? path : first;
    }
    Resp refused = http.put("/v1/stream/limited-" + UUID.randomUUID(), "text/plain", null);
    assertThat(refused.status()).as(refused.body()).isEqualTo(429);
    assertThat(refused.errorCode()).isEqualTo("too_many_streams");
    // Sessions are streams too.
    Resp session = http.request(HttpMethod.POST, "/v1/sessions", Map.of(), new byte[0]);
    assertThat(session.status()).isEqualTo(429);
    // An idempotent re-create of a stream that exists answers as ever; a delete frees a place.
    assertThat(http.put(first, "text/plain", null).status()).isEqualTo(200);
    assertThat(http.delete(first).status()).isEqualTo(204);
    assertThat(http.put("/v1/stream/limited-" + UUID.randomUUID(), "text/plain", null).status()).isEqualTo(201);
  }
}
