package io.tether.transport;

import io.tether.support.Http;
import io.tether.support.LocalCluster;
import io.vertx.core.http.HttpMethod;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The attack of the security review that took nodes down: many sockets announce 4 MiB request bodies
 * and send three bytes each. A node of the size the project ships for local clusters ({@code -Xmx512m},
 * its own process) must neither run out of memory nor slow down for other clients.
 */
class AnnouncedBodiesIT {

  private static final int SOCKETS = 400;
  private static final String STREAM = "/v1/stream/announced";
  private static LocalCluster cluster;
  private static Http http;

  @BeforeAll
  static void start() {
    cluster = new LocalCluster(18_380, 16_000)
        .env("TETHER_CLUSTER_DIR", Path.of("target/cluster-announced").toAbsolutePath().toString())
        .env("TETHER_JVM_OPTS", "-Xmx512m")
        // Every socket of the attack is admitted (the limit per address would otherwise refuse most).
        .env("TETHER_MAX_CONNECTIONS_PER_IP", "0");
    cluster.run("up", "1");
    http = new Http(cluster.port(1));
    assertThat(http.put(STREAM, "text/plain", "still here").status()).isEqualTo(201);
  }

  @AfterAll
  static void stop() {
    if (http != null) {
      http.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void fourHundredAnnouncedFourMiBBodiesNeitherExhaustTheHeapNorSlowAReader() throws Exception {
    List<Socket> sockets = new ArrayList<>();
    byte[] announce = ("POST " + STREAM + " HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
        + "Content-Length: 4194304\r\n\r\nabc").getBytes(StandardCharsets.US_ASCII);
    try {
      for (int i = 0; i < SOCKETS; i++) {
        Socket socket = new Socket("127.0.0.1", cluster.port(1));
        socket.getOutputStream().write(announce);
        sockets.add(socket);
      }
      // While all of them wait for their bodies, ordinary reads answer at once.
      for (int i = 0; i < 5; i++) {
        long started = System.nanoTime();
        Http.Resp read = http.get(STREAM + "?offset=-1");
        long millis = (System.nanoTime() - started) / 1_000_000;
        assertThat(read.status()).isEqualTo(200);
        assertThat(read.body()).isEqualTo("still here");
        assertThat(millis).as("a normal read while %d bodies are announced", SOCKETS).isLessThan(1_000);
      }
      Http.Resp metrics = http.request(HttpMethod.GET, "/metrics", Map.of(), null);
      assertThat(metrics.body()).contains("tether_request_body_bytes");
    } finally {
      for (Socket socket : sockets) {
        try {
          socket.close();
        } catch (IOException ignored) {
          // already closed by the node
        }
      }
    }
    String log = Files.readString(Path.of("target/cluster-announced/node-1.log"));
    assertThat(log).doesNotContain("OutOfMemoryError");
    assertThat(cluster.run("status")).contains("\"status\":\"UP\"");
    await().until(() -> http.get("/health/ready").status() == 200);
  }
}
