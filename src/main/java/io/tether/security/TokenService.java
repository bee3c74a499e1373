package io.tether.security;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.authentication.TokenCredentials;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;

/**
 * Signed, expiring tokens ({@code vertx-auth-jwt}, HS256) of two kinds, told apart by their audience so
 * that one can never stand in for the other:
 *
 * <ul>
 *   <li>session tokens ({@value #AUDIENCE}): {@code sub} is a session id, with a {@link Scope} and
 *       optionally the device they name;</li>
 *   <li>stream tokens ({@value #STREAM_AUDIENCE}): {@code sub} is a plain stream's name, with a scope.</li>
 * </ul>
 * Every node of a cluster must share the signing secret.
 */
public final class TokenService {

  static final String ISSUER = "tether";
  static final String AUDIENCE = "tether-session";
  static final String STREAM_AUDIENCE = "tether-stream";

  private final JWTAuth sessions;
  private final JWTAuth streams;
  private final long defaultTtlSeconds;

  public TokenService(Vertx vertx, String secret, long defaultTtlSeconds) {
    if (secret == null || secret.length() < 32) {
      throw new IllegalArgumentException("the token secret must have at least 32 characters");
    }
    this.sessions = auth(vertx, secret, AUDIENCE);
    this.streams = auth(vertx, secret, STREAM_AUDIENCE);
    this.defaultTtlSeconds = defaultTtlSeconds;
  }

  private static JWTAuth auth(Vertx vertx, String secret, String audience) {
    return JWTAuth.create(vertx, new JWTAuthOptions()
        .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(secret))
        .setJWTOptions(new JWTOptions().setIssuer(ISSUER).addAudience(audience).setLeeway(5)));
  }

  /** What a token lets its holder do on its session or stream. */
  public enum Scope {
    /** Read the events (and a session's snapshot). */
    READ,
    /** Also write: a session's messages, stop, tool decisions and results; a stream's appends, close, delete. */
    WRITE;

    public boolean allows(Scope needed) {
      return this == WRITE || needed == READ;
    }

    public String claim() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    static Scope parse(String claim) {
      if ("write".equals(claim)) {
        return WRITE;
      }
      if ("read".equals(claim)) {
        return READ;
      }
      throw new IllegalArgumentException("unknown scope " + claim);
    }
  }

  /** The verified content of a session token. */
  public record SessionGrant(String sessionId, Scope scope, long expiresAtSeconds, String device) {
  }

  /**
   * What a request may do on a plain stream: granted by a stream token (which expires) or by the API
   * key ({@link #expiresAtSeconds} {@link Long#MAX_VALUE}).
   */
  public record StreamGrant(String stream, Scope scope, long expiresAtSeconds) {
    /** Whether this grant comes from a token (which expires), not from the API key or an open setting. */
    public boolean expires() {
      return expiresAtSeconds != Long.MAX_VALUE;
    }
  }

  /**
   * A signed token for {@code sessionId}, valid for {@code ttlSeconds} ({@code <= 0}: the default) but
   * never past {@code notAfterSeconds} (epoch seconds; the expiry of the token that asked for this one).
   */
  public String issue(String sessionId, Scope scope, long ttlSeconds, String device, long notAfterSeconds) {
    JsonObject claims = new JsonObject().put("sub", sessionId).put("scope", scope.claim());
    if (device != null && !device.isEmpty()) {
      claims.put("device", device);
    }
    return sessions.generateToken(claims, options(AUDIENCE, ttlSeconds, notAfterSeconds));
  }

  /** A session token limited only by the default lifetime. */
  public String issue(String sessionId, Scope scope, long ttlSeconds, String device) {
    return issue(sessionId, scope, ttlSeconds, device, Long.MAX_VALUE);
  }

  /** A signed token for the plain stream {@code stream}; lifetime as for {@link #issue}. */
  public String issueForStream(String stream, Scope scope, long ttlSeconds, long notAfterSeconds) {
    return streams.generateToken(new JsonObject().put("sub", stream).put("scope", scope.claim()),
        options(STREAM_AUDIENCE, ttlSeconds, notAfterSeconds));
  }

  /** Seconds a token issued now with {@code ttlSeconds} lives, capped by {@code notAfterSeconds}. */
  public long lifetime(long ttlSeconds, long notAfterSeconds) {
    long ttl = ttlSeconds > 0 ? Math.min(ttlSeconds, defaultTtlSeconds) : defaultTtlSeconds;
    long now = System.currentTimeMillis() / 1000;
    return Math.max(1, Math.min(ttl, notAfterSeconds - now));
  }

  private JWTOptions options(String audience, long ttlSeconds, long notAfterSeconds) {
    long ttl = lifetime(ttlSeconds, notAfterSeconds);
    return new JWTOptions().setIssuer(ISSUER).addAudience(audience)
        .setExpiresInSeconds((int) Math.min(Integer.MAX_VALUE, ttl));
  }

  public long defaultTtlSeconds() {
    return defaultTtlSeconds;
  }

  /** Verifies a session token: signature, issuer, audience, expiry; fails with {@link InvalidToken}. */
  public Future<SessionGrant> verify(String token) {
    return authenticate(sessions, token).compose(p -> {
      try {
        return Future.succeededFuture(new SessionGrant(p.getString("sub"), Scope.parse(p.getString("scope")),
            p.getLong("exp", 0L), p.getString("device")));
      } catch (RuntimeException e) {
        return Future.failedFuture(new InvalidToken("token carries no valid session scope"));
      }
    });
  }

  /** Verifies a stream token like {@link #verify}. */
  public Future<StreamGrant> verifyStream(String token) {
    return authenticate(streams, token).compose(p -> {
      try {
        return Future.succeededFuture(new StreamGrant(p.getString("sub"), Scope.parse(p.getString("scope")),
            p.getLong("exp", 0L)));
      } catch (RuntimeException e) {
        return Future.failedFuture(new InvalidToken("token carries no valid stream scope"));
      }
    });
  }

  /**
   * The verified claims. Vert.x keeps the registered {@code exp} claim among the user's attributes, not
   * in its principal; it is copied in so callers read one object.
   */
  private static Future<JsonObject> authenticate(JWTAuth auth, String token) {
    if (token == null || token.isBlank()) {
      return Future.failedFuture(new InvalidToken("missing token"));
    }
    return auth.authenticate(new TokenCredentials(token.trim()))
        .recover(e -> Future.failedFuture(new InvalidToken("invalid or expired token (" + e.getMessage() + ")")))
        .map(user -> user.principal().copy().put("exp", user.attributes().getLong("exp", 0L)));
  }

  /** A token that is missing, malformed, forged, expired, or of the other kind. */
  public static final class InvalidToken extends RuntimeException {
    public InvalidToken(String message) {
      super(message, null, false, false);
    }
  }
}
