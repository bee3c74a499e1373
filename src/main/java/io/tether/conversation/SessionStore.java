package io.tether.conversation;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;

import java.util.Set;
import java.util.concurrent.CompletionStage;

/**
 * Cluster state of the conversation layer, next to the streams and keyed like them (by the session's
 * stream name, so a session's entries share its stream's partition and move with it):
 *
 * <ul>
 *   <li>{@value #SNAPSHOTS}: the last saved {@link Conversation} snapshot, with the offset it reflects;</li>
 *   <li>{@value #ACTIVE}: sessions with work in progress (a generation or a tool run), which a new owner
 *       must resume even when no client asks for the session.</li>
 * </ul>
 * Both maps have one synchronous backup ({@code cluster.xml}).
 */
public final class SessionStore {

  public static final String SNAPSHOTS = "tether.sessions";
  public static final String ACTIVE = "tether.sessions.active";

  private final IMap<String, String> snapshots;
  private final IMap<String, Long> active;

  public SessionStore(HazelcastInstance hazelcast) {
    this.snapshots = hazelcast.getMap(SNAPSHOTS);
    this.active = hazelcast.getMap(ACTIVE);
  }

  public Future<JsonObject> load(String stream, Context context) {
    return on(context, snapshots.getAsync(stream)).map(json -> json == null ? null : new JsonObject(json));
  }

  public Future<Void> save(String stream, JsonObject snapshot, Context context) {
    return on(context, snapshots.setAsync(stream, snapshot.encode()));
  }

  public Future<Void> markActive(String stream, boolean working, Context context) {
    return working ? on(context, active.setAsync(stream, System.currentTimeMillis()))
        : on(context, active.removeAsync(stream)).mapEmpty();
  }

  /** Sessions with work in progress whose primary copy is on this member. */
  public Set<String> localActive() {
    return active.localKeySet();
  }

  /** Completes on {@code context}, without Hazelcast's default executor (see StreamStore). */
  private static <T> Future<T> on(Context context, CompletionStage<T> stage) {
    Promise<T> promise = Promise.promise();
    stage.whenCompleteAsync((value, failure) -> context.runOnContext(v -> {
      if (failure != null) {
        promise.fail(failure);
      } else {
        promise.complete(value);
      }
    }), Runnable::run);
    return promise.future();
  }
}
