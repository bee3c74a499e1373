package io.tether.conversation;

import io.tether.cluster.StreamServices;
import io.tether.cluster.routing.StreamRequest;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.Map;

/**
 * Tells session owners which devices are connected through this node. A device is connected while it
 * holds a live connection (SSE, WebSocket, or a long-poll request) to its session's stream here:
 * the first one sends {@code join}, and the owner hears {@code join} again every {@code TETHER_LEASE_SECONDS} as a lease.
 * When the last one closes, {@code leave} follows after {@value #LEAVE_GRACE_MILLIS} ms unless the
 * device is back by then, so consecutive long-polls and quick reconnects do not flap.
 *
 * <p>All state is confined to this verticle's context; callers on other event loops hop onto it.
 */
public final class PresenceReporter extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(PresenceReporter.class);
  static final long LEAVE_GRACE_MILLIS = 3_000;

  private final StreamServices services;
  private final Map<Key, Entry> entries = new HashMap<>();
  private Context home;
  private long timer = -1;

  public PresenceReporter(StreamServices services) {
    this.services = services;
  }

  private record Key(String stream, String device) {
  }

  private static final class Entry {
    int connections;
    long leaveTimer = -1;
  }

  @Override
  public Future<?> start() {
    home = context;
    long interval = services.config().leaseSeconds() * 1000L;
    timer = vertx.setPeriodic(interval, interval, t -> entries.forEach((key, entry) -> {
      if (entry.connections > 0) {
        send(key, "join");
      }
    }));
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(timer);
    return Future.succeededFuture();
  }

  /** A live connection of {@code device} to a session stream opened on this node. */
  public void opened(String stream, String device) {
    home.runOnContext(v -> {
      Key key = new Key(stream, device);
      Entry entry = entries.computeIfAbsent(key, k -> new Entry());
      entry.connections++;
      if (entry.leaveTimer >= 0) {
        vertx.cancelTimer(entry.leaveTimer);
        entry.leaveTimer = -1;
      } else if (entry.connections == 1) {
        send(key, "join");
      }
    });
  }

  /** That connection closed. */
  public void closed(String stream, String device) {
    home.runOnContext(v -> {
      Key key = new Key(stream, device);
      Entry entry = entries.get(key);
      if (entry == null || --entry.connections > 0) {
        return;
      }
      entry.leaveTimer = vertx.setTimer(LEAVE_GRACE_MILLIS, t -> {
        entries.remove(key);
        send(key, "leave");
      });
    });
  }

  private void send(Key key, String state) {
    String command = new JsonObject().put("type", SessionCommand.PRESENCE).put("device", key.device())
        .put("state", state).put("node", services.nodeId()).encode();
    services.router().command(key.stream(), new StreamRequest.Command(command, true))
        .onFailure(e -> log.info("presence of {} on {} not reported: {}", key.device(), key.stream(), e.getMessage()));
  }
}
