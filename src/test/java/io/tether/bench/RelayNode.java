package io.tether.bench;

import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import io.tether.TetherNode;
import io.tether.config.TetherConfig;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.json.JsonObject;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

import java.util.concurrent.TimeUnit;

/**
 * The baseline of the cluster benchmark: a bare Vert.x WebSocket relay on the same clustered event bus
 * and the same Hazelcast membership ({@code cluster.xml}) as Tether, with no stream owner, no ring,
 * no replication and no offsets. It answers the subset of the Durable Streams API that
 * {@link StreamLoad} uses:
 *
 * <pre>
 * PUT  /v1/stream/{name}               201, nothing is stored
 * POST /v1/stream/{name}               publishes the body on the event bus at relay.{name}; 204 once published
 * GET  /v1/stream/{name}?live=ws       WebSocket: a control frame once subscribed, then one data frame per POST
 * GET  /v1/stream/{name}?live=sse      SSE: a control event once subscribed, then per POST a data event and a
 *                                      control event (with a counter for offset) in one write, as the protocol's
 *                                      SSE mode frames each event
 * GET  /health/ready                   200 {"members":N}
 * </pre>
 *
 * A message published on one node reaches the consumers of every node, so a writer on node A and a
 * reader on node B pay one event-bus hop, as Tether's live tail from an owner to a reader's node does.
 * Configured by the same {@code TETHER_*} variables as a node (HTTP and cluster ports, members, name).
 */
public final class RelayNode {

  private RelayNode() {
  }

  public static void main(String[] args) throws Exception {
    TetherConfig config = TetherConfig.fromEnvironment();
    HazelcastInstance hazelcast = Hazelcast.newHazelcastInstance(TetherNode.hazelcastConfig(config));
    Vertx vertx = Vertx.builder()
        .with(new VertxOptions().setEventLoopPoolSize(config.eventLoops()).setPreferNativeTransport(true)
            .setEventBusOptions(new EventBusOptions().setHost(config.clusterHost().isEmpty() ? null : config.clusterHost())
                .setPort(0)))
        .withClusterManager(new HazelcastClusterManager(hazelcast))
        .buildClustered()
        .await(60, TimeUnit.SECONDS);
    // The same write path as Tether's HTTP server: strict thread mode, writes straight to the channel.
    vertx.createHttpServer(new HttpServerOptions().setStrictThreadMode(true))
        .webSocketHandler(ws -> subscribe(vertx, ws))
        .requestHandler(request -> handle(vertx, hazelcast, request))
        .listen(config.httpPort(), config.httpHost())
        .await(30, TimeUnit.SECONDS);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> hazelcast.getLifecycleService().terminate()));
    System.err.println("relay ready on " + config.httpHost() + ":" + config.httpPort());
  }

  private static void handle(Vertx vertx, HazelcastInstance hazelcast, HttpServerRequest request) {
    String path = request.path();
    if (path.equals("/health/ready") || path.equals("/health/live")) {
      request.response().end("{\"members\":" + hazelcast.getCluster().getMembers().size() + "}");
      return;
    }
    if (!path.startsWith("/v1/stream/")) {
      request.response().setStatusCode(404).end();
      return;
    }
    String address = "relay." + path.substring("/v1/stream/".length());
    if (request.method() == HttpMethod.GET && "sse".equals(request.getParam("live"))) {
      serveSse(vertx, request, address);
    } else if (request.method() == HttpMethod.PUT) {
      request.response().setStatusCode(201).end();
    } else if (request.method() == HttpMethod.POST) {
      request.body().onSuccess(body -> {
        vertx.eventBus().publish(address, body.toString());
        request.response().setStatusCode(204).end();
      }).onFailure(e -> request.response().setStatusCode(400).end());
    } else {
      request.response().setStatusCode(405).end();
    }
  }

  private static void serveSse(Vertx vertx, HttpServerRequest request, String address) {
    HttpServerResponse response = request.response();
    response.setChunked(true).putHeader("Content-Type", "text/event-stream").putHeader("Cache-Control", "no-cache");
    long[] offset = {0};
    MessageConsumer<String> consumer = vertx.eventBus().consumer(address, message -> {
      offset[0]++;
      response.write("event: data\ndata:" + message.body() + "\n\nevent: control\ndata:{\"streamNextOffset\":\""
          + offset[0] + "\",\"upToDate\":true}\n\n");
    });
    consumer.completion().onSuccess(v ->
        response.write("event: control\ndata:{\"streamNextOffset\":\"0\",\"upToDate\":true}\n\n"));
    request.connection().closeHandler(v -> consumer.unregister());
  }

  private static void subscribe(Vertx vertx, ServerWebSocket ws) {
    if (!ws.path().startsWith("/v1/stream/")) {
      ws.close((short) 4404);
      return;
    }
    String address = "relay." + ws.path().substring("/v1/stream/".length());
    MessageConsumer<String> consumer = vertx.eventBus().consumer(address,
        message -> ws.writeTextMessage(new JsonObject().put("type", "data").put("data", message.body()).encode()));
    consumer.completion().onSuccess(v -> ws.writeTextMessage("{\"type\":\"control\",\"upToDate\":true}"));
    ws.closeHandler(v -> consumer.unregister());
  }
}
