package io.tether.conversation;

import io.tether.cluster.BlockingCheck;
import io.tether.cluster.StreamServices;
import io.tether.cluster.routing.StreamRequest;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keeps work running that no client asks for: it looks at the sessions with work in progress ({@link
 * SessionStore#localActive()}) whose primary copy is on this member, and wakes the owner of each one that
 * has none here, typically after the previous owner's member died. The new owner's {@link
 * SessionCompanion} then resumes the generation or the tool run.
 *
 * <p>The look is a query over every partition of this member. It runs every {@value #CHECK_MILLIS} ms
 * for {@value #AFTER_CHANGE_MILLIS} ms after the cluster changed (a member joined or left, a partition
 * moved: the only ways a session's primary copy arrives here without its owner), and every
 * {@value #QUIET_CHECK_MILLIS} ms otherwise, so a steady node does not pay for it twice a second.
 */
public final class SessionSupervisor extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(SessionSupervisor.class);
  static final long CHECK_MILLIS = 500;
  static final long AFTER_CHANGE_MILLIS = 30_000;
  static final long QUIET_CHECK_MILLIS = 5_000;
  private static final String RESUME = new JsonObject().put("type", SessionCommand.RESUME).encode();

  private final StreamServices services;
  private final SessionStore store;
  private final Set<String> waking = ConcurrentHashMap.newKeySet();
  private long timer = -1;
  private BlockingCheck look;
  /** When the cluster last changed (this node's start counts as a change). */
  private volatile long changedAt = System.currentTimeMillis();
  private long checkedAt;

  public SessionSupervisor(StreamServices services, SessionStore store) {
    this.services = services;
    this.store = store;
  }

  @Override
  public Future<?> start() {
    look = new BlockingCheck(context);
    services.cluster().onChange(() -> changedAt = System.currentTimeMillis());
    timer = vertx.setPeriodic(CHECK_MILLIS, t -> {
      long now = System.currentTimeMillis();
      if (now - changedAt < AFTER_CHANGE_MILLIS || now - checkedAt >= QUIET_CHECK_MILLIS) {
        checkedAt = now;
        check();
      }
    });
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(timer);
    return Future.succeededFuture();
  }

  private void check() {
    look.run(store::localActive, ar -> {
      if (ar.failed()) {
        log.debug("active sessions not listed: {}", ar.cause().getMessage());
        return;
      }
      for (String stream : ar.result()) {
        if (services.owners().get(stream) == null && waking.add(stream)) {
          services.router().command(stream, new StreamRequest.Command(RESUME, true)).onComplete(r -> {
            waking.remove(stream);
            if (r.failed()) {
              log.debug("session {} not woken: {}", stream, r.cause().getMessage());
            }
          });
        }
      }
    });
  }
}
