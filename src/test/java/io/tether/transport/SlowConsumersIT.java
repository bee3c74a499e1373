package io.tether.transport;

import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.RawHttp;
import io.tether.support.TestNodes;
import io.tether.support.WsReader;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Readers and writers that cannot keep up, or have gone: what each may make the node hold, and what it
 * gets. A live reader that falls behind loses its connection; a slow reader catching up is paced, not
 * cut; a WebSocket writer stops being read while its appends wait; a WebSocket peer that answers no
 * ping is closed.
 */
class SlowConsumersIT {

  private static final int EVENT = 64 * 1024;
  private static final Duration DEADLINE = Duration.ofSeconds(30);

  private static TetherNode node;
  private static Http http;

  @BeforeAll
  static void start() {
    node = TestNodes.start(Map.of(
        "TETHER_MAX_READ_BYTES", Integer.toString(4 * EVENT),
        "TETHER_MAX_APPEND_BYTES", Integer.toString(EVENT),
        "TETHER_RING_MAX_BYTES", Integer.toString(256 << 20),
        "TETHER_REQUEST_TIMEOUT_MS", "5000",
        "TETHER_ROUTE_DEADLINE_MS", "20000"));
    http = new Http(node.httpPort());
  }

  @AfterAll
  static void stop() {
    if (http != null) {
      http.close();
    }
    TestNodes.stop(node);
  }

  private static String textStream(int events) {
    String path = "/v1/stream/slow-" + UUID.randomUUID();
    assertThat(http.put(path, "text/plain", null).status()).isEqualTo(201);
    for (int i = 0; i < events; i++) {
      assertThat(http.post(path, "text/plain", "x".repeat(EVENT)).status()).isEqualTo(204);
    }
    return path;
  }

  private static double slowCut() {
    return node.services().metrics().registry().get("tether.slow.consumers.cut").counter().count();
  }

  /** An SSE request on a socket that reads nothing unless asked, with a small receive buffer. */
  private static Socket sse(String path, String offset) throws IOException {
    Socket socket = new Socket();
    socket.setReceiveBufferSize(4096);
    socket.connect(new InetSocketAddress("127.0.0.1", node.httpPort()));
    socket.setSoTimeout((int) DEADLINE.toMillis());
    socket.getOutputStream().write(("GET " + path + "?offset=" + offset + "&live=sse HTTP/1.1\r\nHost: t\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII));
    return socket;
  }

  @Test
  void aLiveReaderThatFallsBehindLosesItsConnection() throws Exception {
    String path = textStream(0);
    double cutBefore = slowCut();
    try (Socket reader = sse(path, "now")) {
      InputStream in = reader.getInputStream();
      assertThat(RawHttp.readHead(in)).startsWith("HTTP/1.1 200");
      await().atMost(DEADLINE).until(() -> node.services().live().size() == 1);
      // The reader reads nothing while appends pile up far beyond what its socket and queue can hold.
      for (int i = 0; i < 300 && slowCut() == cutBefore; i++) {
        assertThat(http.post(path, "text/plain", "y".repeat(EVENT)).status()).isEqualTo(204);
      }
      assertThat(slowCut()).isGreaterThan(cutBefore);
      // Not only its place in the stream: the connection itself ends (what was queued, then end of stream).
      assertThat(endsWithin(in, DEADLINE)).as("the node closed the connection").isTrue();
    }
    assertThat(node.services().metrics().totalConnections()).isZero();
  }

  @Test
  void aSlowReaderCatchingUpIsPacedNotCut() throws Exception {
    // More history than the socket buffers of both ends hold (several MiB on loopback), so that the
    // node's write queue fills while the reader is slow.
    int events = 128;
    String path = textStream(events);
    double cutBefore = slowCut();
    try (Socket reader = sse(path, "-1")) {
      InputStream in = reader.getInputStream();
      ByteArrayOutputStream received = new ByteArrayOutputStream();
      byte[] buffer = new byte[16 * 1024];
      // 8 MiB of history read slowly, while the node's limit per reader is 256 KiB.
      while (!received.toString(StandardCharsets.ISO_8859_1).contains("\"upToDate\":true")) {
        int n;
        try {
          n = in.read(buffer);
        } catch (SocketTimeoutException e) {
          throw new AssertionError("the replay stopped", e);
        }
        assertThat(n).as("the node ended the replay").isGreaterThanOrEqualTo(0);
        received.write(buffer, 0, n);
        TimeUnit.MILLISECONDS.sleep(2); // the slow reader under test, not a wait for the node
      }
      long payload = body(received).lines().filter(l -> l.startsWith("data:x")).mapToLong(l -> l.length() - 5).sum();
      assertThat(payload).isEqualTo((long) events * EVENT);
    }
    assertThat(slowCut()).isEqualTo(cutBefore);
  }

  /**
   * Reads (and drops) whatever arrives until the connection ends: {@code true} at end of stream or a
   * reset, {@code false} if it is still open when {@code deadline} has passed.
   */
  private static boolean endsWithin(InputStream in, Duration deadline) {
    long until = System.nanoTime() + deadline.toNanos();
    byte[] buffer = new byte[64 * 1024];
    try {
      while (System.nanoTime() < until) {
        if (in.read(buffer) < 0) {
          return true;
        }
      }
      return false;
    } catch (SocketTimeoutException silent) {
      return false;
    } catch (IOException reset) {
      return true;
    }
  }

  private static String body(ByteArrayOutputStream received) {
    return received.toString(StandardCharsets.ISO_8859_1);
  }

  @Test
  void aWebSocketWriterIsNotReadWhileItsAppendsWait() throws Exception {
    String path = textStream(0);
    String name = path.substring("/v1/stream/".length());
    CountDownLatch release = new CountDownLatch(1);
    com.hazelcast.map.IMap<String, Object> streams = node.hazelcast().getMap("tether.streams");
    try (WsReader ws = http.ws(path + "?offset=now&live=ws")) {
      await().atMost(DEADLINE).until(() -> !ws.frames("control").isEmpty());
      // Hold the partition thread of the stream: no append can complete.
      var blocker = streams.submitToKey(name, entry -> {
        try {
          release.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return null;
      });
      for (int i = 0; i < 100; i++) {
        ws.socket().writeTextMessage(new JsonObject().put("type", "append").put("id", i).put("data", "a" + i).encode());
      }
      // Appends are applied one after the other; past MAX_PENDING waiting, the node stops reading the
      // socket, so what the peer sends next (a ping here) waits in the network, not in the node's heap.
      ws.send(new JsonObject().put("type", "ping").put("id", "blocked"));
      await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2)).until(() -> ws.frames("pong").isEmpty());
      release.countDown();
      blocker.toCompletableFuture().get(10, TimeUnit.SECONDS);
      await().atMost(DEADLINE).until(() -> ws.frames("ack").size() == 100 && ws.frames("pong").size() == 1);
      assertThat(ws.frames("ack")).extracting(f -> f.getInteger("id")).containsExactlyElementsOf(
          java.util.stream.IntStream.range(0, 100).boxed().toList());
    } finally {
      release.countDown();
    }
    StringBuilder expected = new StringBuilder();
    for (int i = 0; i < 100; i++) {
      expected.append("a").append(i);
    }
    assertThat(http.get(path + "?offset=-1").body()).isEqualTo(expected.toString());
  }

  @Test
  void aWebSocketPeerThatAnswersNoPingIsClosed() throws Exception {
    String path = textStream(0);
    // A peer that completes the handshake and then never reads or answers.
    try (Socket peer = new Socket("127.0.0.1", node.httpPort())) {
      peer.setSoTimeout((int) DEADLINE.toMillis());
      peer.getOutputStream().write(("GET " + path + "?offset=now&live=ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
          + "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      InputStream in = peer.getInputStream();
      assertThat(RawHttp.readHead(in)).startsWith("HTTP/1.1 101");
      await().atMost(DEADLINE).until(() -> node.services().metrics().totalConnections() == 1);
      // Frames (heartbeats, pings, a close) arrive until the node closes the connection.
      assertThat(endsWithin(in, DEADLINE)).as("the node closed the connection").isTrue();
    }
    await().atMost(DEADLINE).until(() -> node.services().metrics().totalConnections() == 0);
    // A real client answers pings and stays connected through many heartbeats (1 s in tests).
    try (WsReader ws = http.ws(path + "?offset=now&live=ws")) {
      await().atMost(DEADLINE).until(() -> ws.pings() >= 5);
      assertThat(ws.closeStatus()).isNull();
    }
  }
}
