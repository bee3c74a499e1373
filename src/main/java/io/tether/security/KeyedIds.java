package io.tether.security;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.Base64;

/**
 * Ids derived from a client's key with the node's secret (HMAC-SHA256): the same key always gives the
 * same id, on every node and after a restart of the cluster (given the same secret), and nobody without
 * the secret can compute or guess the id from the key. Session creation uses this for
 * {@code Idempotency-Key}: a retried create names the session the first attempt made, instead of
 * leaving it behind as an orphan.
 */
public final class KeyedIds {

  private final SecretKeySpec key;

  public KeyedIds(String secret) {
    this.key = new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256");
  }

  /** A 128-bit id, 22 URL-safe characters, like a random session id. */
  public String sessionIdFor(String idempotencyKey) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(key);
      byte[] digest = mac.doFinal(("tether-session\0" + idempotencyKey).getBytes(StandardCharsets.UTF_8));
      return Base64.getUrlEncoder().withoutPadding().encodeToString(Arrays.copyOf(digest, 16));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }
}
