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
 * Session tokens: HS256-signed JWTs ({@code vertx-auth-jwt}) naming one session ({@code sub}), a
 * scope ({@link Scope}) and an expiry. Every node of a cluster must share the signing secret.
 */
public final class TokenService {

  static final String ISSUER = "tether";
  static final String AUDIENCE = "tether-session";

  private final JWTAuth auth;
  private final long defaultTtlSeconds;

  public TokenService(Vertx vertx, String secret, long defaultTtlSeconds) {
    if (secret == null || secret.length() < 32) {
      throw new IllegalArgumentException("the token secret must have at least 32 characters");
    }
    this.auth = JWTAuth.create(vertx, new JWTAuthOptions()
        .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(secret))
        .setJWTOptions(new JWTOptions().setIssuer(ISSUER).addAudience(AUDIENCE).setLeeway(5)));
    this.defaultTtlSeconds = defaultTtlSeconds;
  }

  /** What a token lets its holder do on its session. */
  public enum Scope {
    /** Read the session's events and snapshot. */
    READ,
    /** Also send messages, stop, approve or deny tools, post tool results. */
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

  /** The verified content of a token. */
  public record SessionGrant(String sessionId, Scope scope, long expiresAtSeconds, String device) {
  }

  /** A signed token for {@code sessionId}; {@code ttlSeconds <= 0} takes the default. */
  public String issue(String sessionId, Scope scope, long ttlSeconds, String device) {
    long ttl = ttlSeconds > 0 ? ttlSeconds : defaultTtlSeconds;
    JsonObject claims = new JsonObject().put("sub", sessionId).put("scope", scope.claim());
    if (device != null && !device.isEmpty()) {
      claims.put("device", device);
    }
    return auth.generateToken(claims, new JWTOptions().setIssuer(ISSUER).addAudience(AUDIENCE)
        .setExpiresInSeconds((int) Math.min(Integer.MAX_VALUE, ttl)));
  }

  public long defaultTtlSeconds() {
    return defaultTtlSeconds;
  }

  /** Verifies signature, issuer, audience and expiry; fails with {@link InvalidToken} otherwise. */
  public Future<SessionGrant> verify(String token) {
    if (token == null || token.isBlank()) {
      return Future.failedFuture(new InvalidToken("missing token"));
    }
    return auth.authenticate(new TokenCredentials(token.trim()))
        .recover(e -> Future.failedFuture(new InvalidToken("invalid or expired token (" + e.getMessage() + ")")))
        .compose(user -> {
          JsonObject p = user.principal();
          try {
            return Future.succeededFuture(new SessionGrant(p.getString("sub"), Scope.parse(p.getString("scope")),
                p.getLong("exp", 0L), p.getString("device")));
          } catch (RuntimeException e) {
            return Future.failedFuture(new InvalidToken("token carries no valid session scope"));
          }
        });
  }

  /** A token that is missing, malformed, forged or expired. */
  public static final class InvalidToken extends RuntimeException {
    public InvalidToken(String message) {
      super(message, null, false, false);
    }
  }
}
