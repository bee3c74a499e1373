package io.tether.transport;

import io.tether.conversation.SessionIds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every spelling a client can use to name a stream comes to one canonical name, and the checks that
 * depend on it (is this a session?) see that name, whatever the spelling.
 */
class StreamNamesTest {

  private static final String ID = "SLmorpWxhfjTN57kSGTa7Q";

  @ParameterizedTest
  @ValueSource(strings = {
      "sessions/" + ID,
      "/v1/stream/sessions/" + ID,
      "http://tether.example/v1/stream/sessions/" + ID,
      "HTTPS://tether.example:8443/v1/stream/sessions/" + ID,
      "sessions%2F" + ID,
      "/v1/stream/sessions%2f" + ID,
      "/v1/stream/%73essions/" + ID,
      "  /v1/stream/sessions/" + ID + "  ",
  })
  void everyFormOfASessionReferenceIsRecognisedAsTheSession(String reference) {
    String name = StreamNames.fromReference(reference);
    assertThat(name).isEqualTo("sessions/" + ID);
    assertThat(SessionIds.isSessionStream(name)).isTrue();
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "/v1/stream/x/../sessions/" + ID,
      "/v1/stream/./sessions/" + ID,
      "/v1/stream/sessions/./" + ID,
      "/v1/stream/x/%2e%2e/sessions/" + ID,
      "sessions/%2E/" + ID,
      "sessions//" + ID,
      "/v1/stream//sessions/" + ID,
      "/v1//stream/sessions/" + ID,
      "http://h/v1/stream/sessions/" + ID + "?x=1",
      "http://h/v1/stream/sessions/" + ID + "#f",
      "http://h/other/sessions/" + ID,
      "sessions%2" + ID,
      "sessions%zz" + ID,
      "%C0%AFsessions",
      "ses\u00e9sions",
      "",
  })
  void dotSegmentsEmptySegmentsAndMalformedEncodingsAreRefusedNotNormalised(String reference) {
    assertThatThrownBy(() -> StreamNames.fromReference(reference))
        .isInstanceOfSatisfying(ApiError.Refusal.class, r -> assertThat(r.error().code()).isEqualTo("invalid_stream_name"));
  }

  @Test
  void requestPathsAreDecodedOnce() {
    assertThat(StreamNames.fromPath("/v1/stream/a%3Ab%40c")).isEqualTo("a:b@c");
    assertThat(StreamNames.fromPath("/v1/stream/a%2Fb")).isEqualTo("a/b");
    // %25 decodes to a literal '%', which no stream name contains: never decoded a second time.
    assertThatThrownBy(() -> StreamNames.fromPath("/v1/stream/sessions%252F" + ID)).isInstanceOf(ApiError.Refusal.class);
  }

  @ParameterizedTest
  @ValueSource(strings = {"a", "a/b", "A-z_0.9~:@", "...", ".a/..b/c.", "a.b/c..d/e", "x/y/z"})
  void namesOfAllowedCharactersAndSegmentsAreKept(String name) {
    assertThat(StreamNames.validate(name)).isEqualTo(name);
  }

  @ParameterizedTest
  @ValueSource(strings = {"/a", "a/", "a//b", "/", ".", "..", "a/.", "./a", "a/../b", "a b", "a%b", "a?b", "a#b",
      "a\\b", "a\u0000b", "\u00e9"})
  void namesWithEmptyOrDotSegmentsOrOtherCharactersAreRefused(String name) {
    assertThatThrownBy(() -> StreamNames.validate(name))
        .isInstanceOfSatisfying(ApiError.Refusal.class, r -> assertThat(r.error().code()).isEqualTo("invalid_stream_name"));
  }

  @Test
  void namesKeepTheirLimits() {
    assertThat(StreamNames.validate("a".repeat(256))).hasSize(256);
    assertThatThrownBy(() -> StreamNames.validate("a".repeat(257))).isInstanceOf(ApiError.Refusal.class);
    assertThatThrownBy(() -> StreamNames.fromPath("/v1/stream/" + "%61".repeat(300))).isInstanceOf(ApiError.Refusal.class);
    assertThatThrownBy(() -> StreamNames.fromPath("/other/x")).isInstanceOf(ApiError.Refusal.class);
  }
}
