package io.tether.transport;

import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.TestNodes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Catch-up reads from every offset form, on a node whose rings hold 4 events and pages hold 24 bytes. */
class ReplayIT {

  private static TetherNode node;
  private static Http http;

  @BeforeAll
  static void start() {
    node = TestNodes.start(Map.of("TETHER_RING_MAX_EVENTS", "4", "TETHER_MAX_READ_BYTES", "24"));
    http = new Http(node.httpPort());
  }

  @AfterAll
  static void stop() {
    http.close();
    TestNodes.stop(node);
  }

  private static String stream() {
    return "/v1/stream/replay-" + UUID.randomUUID();
  }

  @Test
  void readsFromBeginningNowAndEveryReturnedOffsetWithoutGapsOrDuplicates() {
    String path = stream();
    assertThat(http.put(path, "text/plain", null).status()).isEqualTo(201);
    List<String> offsets = new ArrayList<>();
    offsets.add(http.head(path).header("Stream-Next-Offset"));
    for (String chunk : new String[] {"a", "bb", "ccc"}) {
      Resp posted = http.post(path, "text/plain", chunk);
      assertThat(posted.status()).isEqualTo(204);
      offsets.add(posted.header("Stream-Next-Offset"));
    }
    String[] expected = {"abbccc", "bbccc", "ccc", ""};
    for (int i = 0; i < offsets.size(); i++) {
      Resp read = http.get(path + "?offset=" + offsets.get(i));
      assertThat(read.status()).isEqualTo(200);
      assertThat(read.body()).as("from offset %s", offsets.get(i)).isEqualTo(expected[i]);
      assertThat(read.header("Stream-Up-To-Date")).isEqualTo("true");
      assertThat(read.header("Stream-Next-Offset")).isEqualTo(offsets.get(3));
    }
    assertThat(http.get(path + "?offset=-1").body()).isEqualTo("abbccc");
    assertThat(http.get(path).body()).isEqualTo("abbccc");
    Resp now = http.get(path + "?offset=now");
    assertThat(now.body()).isEmpty();
    assertThat(now.header("Stream-Next-Offset")).isEqualTo(offsets.get(3));
    assertThat(now.header("Cache-Control")).contains("no-store");
  }

  @Test
  void pagesThroughAStreamLargerThanOneResponse() {
    String path = stream();
    http.put(path, "text/plain", null);
    for (String chunk : new String[] {"123456789012", "345678901234", "abc"}) {
      http.post(path, "text/plain", chunk);
    }
    StringBuilder all = new StringBuilder();
    String offset = "-1";
    int pages = 0;
    while (true) {
      Resp page = http.get(path + "?offset=" + offset);
      assertThat(page.status()).isEqualTo(200);
      all.append(page.body());
      pages++;
      offset = page.header("Stream-Next-Offset");
      if ("true".equals(page.header("Stream-Up-To-Date"))) {
        break;
      }
    }
    assertThat(all.toString()).isEqualTo("123456789012345678901234abc");
    assertThat(pages).isGreaterThan(1);
  }

  @Test
  void anOffsetOlderThanTheRingIsGoneWithTheEarliestRetainedOffset() {
    String path = stream();
    http.put(path, "text/plain", null);
    String first = http.post(path, "text/plain", "0").header("Stream-Next-Offset");
    for (int i = 1; i < 8; i++) {
      http.post(path, "text/plain", Integer.toString(i));
    }
    Resp gone = http.get(path + "?offset=" + first);
    assertThat(gone.status()).isEqualTo(410);
    assertThat(gone.errorCode()).isEqualTo("offset_gone");
    String earliest = gone.header("Stream-Earliest-Offset");
    assertThat(earliest).isEqualTo("0000000000000004_0000000000000004");
    assertThat(http.get(path + "?offset=-1").status()).isEqualTo(410);
    assertThat(http.get(path + "?offset=" + earliest).body()).isEqualTo("4567");
  }

  @Test
  void anOffsetBeyondTheTailIsRefused() {
    String path = stream();
    http.put(path, "text/plain", "x");
    Resp future = http.get(path + "?offset=0000000000000009_0000000000000009");
    assertThat(future.status()).isEqualTo(400);
    assertThat(future.errorCode()).isEqualTo("offset_beyond_tail");
  }

  @Test
  void etagRevalidationAnswers304UntilTheDataChanges() {
    String path = stream();
    http.put(path, "text/plain", "v1");
    String etag = http.get(path).header("ETag");
    assertThat(http.get(path, Map.of("If-None-Match", etag)).status()).isEqualTo(304);
    http.post(path, "text/plain", "v2");
    Resp changed = http.get(path, Map.of("If-None-Match", etag));
    assertThat(changed.status()).isEqualTo(200);
    assertThat(changed.header("ETag")).isNotEqualTo(etag);
  }

  @Test
  void jsonStreamsReadAsOneArrayOfMessages() {
    String path = stream();
    http.put(path, "application/json", "[{\"n\":1},{\"n\":2}]");
    http.post(path, "application/json", "{\"n\":3}");
    Resp read = http.get(path);
    assertThat(read.body()).isEqualTo("[{\"n\":1},{\"n\":2},{\"n\":3}]");
    assertThat(http.get(path + "?offset=now").body()).isEqualTo("[]");
  }
}
