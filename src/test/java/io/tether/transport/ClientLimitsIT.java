package io.tether.transport;

import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.RawHttp;
import io.tether.support.TestNodes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * What a client may make a node hold: connections per address, time before a request head, time
 * between requests, time between body bytes, request-body bytes over all clients, and the size of one
 * body (refused as soon as it is announced).
 */
class ClientLimitsIT {

  private static final int MAX_APPEND = 1 << 20;
  private static final int PER_ADDRESS = 6;
  private static final Duration DEADLINE = Duration.ofSeconds(15);

  private static TetherNode node;
  private static Http http;
  private static String stream;

  @BeforeAll
  static void start() {
    node = TestNodes.start(Map.of(
        "TETHER_MAX_APPEND_BYTES", Integer.toString(MAX_APPEND),
        "TETHER_MAX_BODY_BUFFER_BYTES", Integer.toString(2 * MAX_APPEND),
        "TETHER_RING_MAX_BYTES", Integer.toString(64 << 20),
        "TETHER_MAX_CONNECTIONS_PER_IP", Integer.toString(PER_ADDRESS),
        "TETHER_HEADER_TIMEOUT_MS", "1000",
        "TETHER_IDLE_TIMEOUT_SECONDS", "2",
        "TETHER_BODY_TIMEOUT_MS", "3000",
        "TETHER_LONG_POLL_SECONDS", "30"));
    http = new Http(node.httpPort());
    stream = "/v1/stream/limits-" + UUID.randomUUID();
    assertThat(http.put(stream, "application/octet-stream", null).status()).isEqualTo(201);
  }

  @AfterAll
  static void stop() {
    if (http != null) {
      http.close();
    }
    TestNodes.stop(node);
  }

  @AfterEach
  void everythingHeldIsReleased() {
    await().atMost(DEADLINE).until(() -> bodyBytesHeld() == 0);
    await().atMost(DEADLINE).until(() -> http.get("/health/live").status() == 200);
  }

  private static double bodyBytesHeld() {
    return node.services().metrics().registry().get("tether.request.body.bytes").gauge().value();
  }

  private static Socket connect() throws IOException {
    Socket socket = new Socket("127.0.0.1", node.httpPort());
    socket.setSoTimeout((int) DEADLINE.toMillis());
    return socket;
  }

  /** Whether the server closed the connection (end of stream or reset) within the deadline. */
  private static boolean closedByServer(Socket socket) throws IOException {
    InputStream in = socket.getInputStream();
    try {
      while (true) {
        int b = in.read();
        if (b < 0) {
          return true;
        }
      }
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      return true;
    }
  }

  private static String head(String method, String contentLength, String extra) {
    return method + " " + stream + " HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n"
        + (contentLength == null ? "" : "Content-Length: " + contentLength + "\r\n") + extra + "\r\n";
  }

  // ------------------------------------------------------------------------------------ time

  @Test
  void aSocketThatSendsNothingIsClosed() throws Exception {
    try (Socket socket = connect()) {
      assertThat(closedByServer(socket)).isTrue();
    }
  }

  @Test
  void aRequestHeadThatNeverEndsIsClosed() throws Exception {
    try (Socket socket = connect()) {
      socket.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: t\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
      assertThat(closedByServer(socket)).isTrue();
    }
  }

  @Test
  void aKeptAliveConnectionIsClosedWhenIdle() throws Exception {
    try (Socket socket = connect()) {
      socket.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      String answer = RawHttp.readHead(socket.getInputStream());
      assertThat(answer).startsWith("HTTP/1.1 200");
      assertThat(closedByServer(socket)).isTrue();
    }
  }

  /**
   * A connection that keeps serving requests outlives the header timeout armed when it opened and the
   * idle timeout armed after each response (1 s and 2 s here): the client paces its requests 400 ms
   * apart over 4 s. Only once it stops is the connection closed as idle.
   */
  @Test
  void aConnectionInUseIsNotClosedByItsTimeouts() throws Exception {
    try (Socket socket = connect()) {
      long until = System.nanoTime() + Duration.ofSeconds(4).toNanos();
      int answered = 0;
      while (System.nanoTime() < until) {
        socket.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        String answer = RawHttp.readHead(socket.getInputStream());
        assertThat(answer).as("request %d on the connection", answered + 1).startsWith("HTTP/1.1 200");
        socket.getInputStream().readNBytes(contentLength(answer));
        answered++;
        Thread.sleep(400); // the client's pace, not a wait for the server
      }
      assertThat(answered).isGreaterThanOrEqualTo(5);
      assertThat(closedByServer(socket)).isTrue();
    }
  }

  /** A body that arrives slowly but steadily (a piece every 500 ms for 5 s) is read, not cut off at 3 s. */
  @Test
  void aBodyThatKeepsArrivingIsRead() throws Exception {
    String slow = "/v1/stream/limits-slow-" + UUID.randomUUID();
    assertThat(http.put(slow, "application/octet-stream", null).status()).isEqualTo(201);
    try (Socket socket = connect()) {
      OutputStream out = socket.getOutputStream();
      out.write(("POST " + slow + " HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n"
          + "Content-Length: 100\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      for (int i = 0; i < 10; i++) {
        Thread.sleep(500); // the client's pace, not a wait for the server
        out.write("0123456789".getBytes(StandardCharsets.US_ASCII));
        out.flush();
      }
      String answer = RawHttp.readHead(socket.getInputStream());
      assertThat(answer).startsWith("HTTP/1.1 204");
    }
    assertThat(http.head(slow).header("Stream-Next-Offset")).as("the append was stored whole")
        .isEqualTo(String.format("%016d_%016d", 1, 100));
  }

  private static int contentLength(String head) {
    for (String line : head.split("\r\n")) {
      if (line.regionMatches(true, 0, "Content-Length:", 0, 15)) {
        return Integer.parseInt(line.substring(15).trim());
      }
    }
    return 0;
  }

  @Test
  void aBodyThatStopsArrivingIsAnswered408AndClosed() throws Exception {
    String before = http.head(stream).header("Stream-Next-Offset");
    try (Socket socket = connect()) {
      OutputStream out = socket.getOutputStream();
      out.write((head("POST", "100", "") + "0123456789").getBytes(StandardCharsets.US_ASCII));
      String answer = RawHttp.readHead(socket.getInputStream());
      assertThat(answer).startsWith("HTTP/1.1 408");
      assertThat(closedByServer(socket)).isTrue();
    }
    assertThat(http.head(stream).header("Stream-Next-Offset")).as("nothing was stored").isEqualTo(before);
  }

  // ------------------------------------------------------------------------------------ size

  @Test
  void anAnnouncedOversizeIsRefusedBeforeTheBodyIsSent() throws Exception {
    try (Socket socket = connect()) {
      socket.getOutputStream().write(head("POST", Integer.toString(4 * MAX_APPEND), "").getBytes(StandardCharsets.US_ASCII));
      String answer = RawHttp.readHead(socket.getInputStream());
      assertThat(answer).as("answered without a byte of the body").startsWith("HTTP/1.1 413");
    }
  }

  @Test
  void expectContinueIsAnsweredByTheLimit() throws Exception {
    try (Socket socket = connect()) {
      socket.getOutputStream().write(head("POST", Integer.toString(MAX_APPEND + 1), "Expect: 100-continue\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      assertThat(RawHttp.readHead(socket.getInputStream())).startsWith("HTTP/1.1 413");
    }
    try (Socket socket = connect()) {
      OutputStream out = socket.getOutputStream();
      out.write(head("POST", "5", "Expect: 100-continue\r\n").getBytes(StandardCharsets.US_ASCII));
      assertThat(RawHttp.readHead(socket.getInputStream())).startsWith("HTTP/1.1 100");
      out.write("hello".getBytes(StandardCharsets.US_ASCII));
      assertThat(RawHttp.readHead(socket.getInputStream())).startsWith("HTTP/1.1 204");
    }
  }

  /** What a user of curl sees for a 32 MiB body: the status, not a reset connection. */
  @Test
  void curlPrintsThe413ForA32MiBBody(@TempDir Path dir) throws Exception {
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/curl")), "curl is not installed");
    Path big = dir.resolve("big.bin");
    try (OutputStream out = Files.newOutputStream(big)) {
      byte[] chunk = new byte[1 << 20];
      for (int i = 0; i < 32; i++) {
        out.write(chunk);
      }
    }
    for (List<String> extra : List.of(List.<String>of(), List.of("-H", "Expect:"))) {
      List<String> command = new ArrayList<>(List.of("curl", "-sS", "-X", "POST", "-H", "Content-Type: application/octet-stream",
          "--data-binary", "@" + big, "-w", "\n%{http_code}", "http://127.0.0.1:" + node.httpPort() + stream));
      command.addAll(extra);
      Process curl = new ProcessBuilder(command).redirectErrorStream(true).start();
      String output = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(curl.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(output).as("curl %s", extra).contains("payload_too_large").endsWith("413");
      assertThat(curl.exitValue()).isZero();
    }
  }

  // ------------------------------------------------------------------------------------ memory

  @Test
  void requestBodiesTogetherStayWithinTheNodesBudget() throws Exception {
    byte[] part = new byte[900 * 1024];
    try (Socket a = connect(); Socket b = connect(); Socket c = connect()) {
      for (Socket s : List.of(a, b)) {
        s.getOutputStream().write(head("POST", Integer.toString(MAX_APPEND), "").getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().write(part);
      }
      await().atMost(DEADLINE).until(() -> bodyBytesHeld() >= 2 * part.length);
      c.getOutputStream().write(head("POST", "300000", "").getBytes(StandardCharsets.US_ASCII));
      c.getOutputStream().write(new byte[300_000]);
      String refused = RawHttp.readHead(c.getInputStream());
      assertThat(refused).startsWith("HTTP/1.1 503").contains("Retry-After: 1");
      assertThat(bodyBytesHeld()).isLessThanOrEqualTo(2.0 * MAX_APPEND);
      for (Socket s : List.of(a, b)) {
        s.getOutputStream().write(new byte[MAX_APPEND - part.length]);
        assertThat(RawHttp.readHead(s.getInputStream())).startsWith("HTTP/1.1 204");
      }
    }
    // Both bodies were stored whole; the refused one left nothing.
    assertThat(http.head(stream).header("Stream-Next-Offset"))
        .isEqualTo(String.format("%016d_%016d", 2, 2 * MAX_APPEND));
  }

  // ------------------------------------------------------------------------------------ connections

  @Test
  void oneAddressHoldsABoundedNumberOfConnections() throws Exception {
    List<Socket> held = new ArrayList<>();
    try {
      for (int i = 0; i < PER_ADDRESS; i++) {
        Socket socket = connect();
        held.add(socket);
        socket.getOutputStream().write(("GET " + stream + "?offset=now&live=long-poll HTTP/1.1\r\nHost: t\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII));
      }
      await().atMost(DEADLINE).until(() -> node.services().metrics().totalConnections() == PER_ADDRESS);
      RawHttp.Answer refused = RawHttp.exchange(node.httpPort(),
          "GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n".getBytes(StandardCharsets.US_ASCII), DEADLINE);
      assertThat(refused.status()).isEqualTo(429);
      assertThat(refused.head()).contains("Retry-After").contains("Connection: close");
    } finally {
      for (Socket socket : held) {
        socket.close();
      }
    }
    await().atMost(DEADLINE).until(() -> RawHttp.exchange(node.httpPort(),
        "GET /health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII),
        DEADLINE).status() == 200);
  }

  /**
   * A closed WebSocket gives its place back: a client that opened and closed more WebSockets over time
   * than it may hold at once is still served.
   */
  @Test
  void closedWebSocketsGiveTheirPlaceBack() throws Exception {
    long baselineSockets = (long) node.services().metrics().totalConnections();
    for (int i = 0; i < 3 * PER_ADDRESS; i++) {
      try (var socket = http.ws(stream + "?offset=now&live=ws")) {
        await().atMost(DEADLINE).until(() -> !socket.frames("control").isEmpty());
      }
      await().atMost(DEADLINE).until(() -> node.services().metrics().totalConnections() == baselineSockets);
    }
    await().atMost(DEADLINE).until(() -> RawHttp.exchange(node.httpPort(),
        "GET /health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII),
        DEADLINE).status() == 200);
  }
}
