package io.tether.conversation;

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
 * Keeps work running that no client asks for: every {@value #CHECK_MILLIS} ms it looks at the sessions
 * with work in progress ({@link SessionStore#localActive()}) whose primary copy is on this member, and
 * wakes the owner of each one that has none here, typically after the previous owner's member died.
 * The new owner's {@link SessionCompanion} then resumes the generation or the tool run.
 */
public final class SessionSupervisor extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(SessionSupervisor.class);
  static final long CHECK_MILLIS = 500;
  private static final String RESUME = new JsonObject().put("type", SessionCommand.RESUME).encode();

  private final StreamServices services;
  private final SessionStore store;
  private final Set<String> waking = ConcurrentHashMap.newKeySet();
  private long timer = -1;
  private boolean checking;

  public SessionSupervisor(StreamServices services, SessionStore store) {
    this.services = services;
    this.store = store;
  }

  @Override
  public Future<?> start() {
    timer = vertx.setPeriodic(CHECK_MILLIS, t -> check());
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(timer);
    return Future.succeededFuture();
  }

  private void check() {
    if (checking) {
      return;
    }
    checking = true;
    vertx.executeBlocking(store::localActive, false).onComplete(ar -> {
      checking = false;
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
