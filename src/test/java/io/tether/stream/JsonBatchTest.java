package io.tether.stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class JsonBatchTest {

  private static JsonBatch parse(String body) {
    return JsonBatch.parse(body.getBytes(StandardCharsets.UTF_8));
  }

  private static String text(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }

  @Test
  void anArrayContributesItsElementsExactlyAsSent() {
    JsonBatch batch = parse(" [ {\"a\": 1} ,\n 2.50 , \"x,y\" , [3, 4] ] ");
    assertThat(batch.messageCount()).isEqualTo(4);
    assertThat(text(batch.payload())).isEqualTo("{\"a\": 1},2.50,\"x,y\",[3, 4]");
  }

  @Test
  void anyOtherValueIsOneMessage() {
    assertThat(parse("{\"k\":\"v\"}").messageCount()).isEqualTo(1);
    assertThat(text(parse("  42 ").payload())).isEqualTo("42");
    assertThat(text(parse("\"s\"").payload())).isEqualTo("\"s\"");
    assertThat(text(parse("null").payload())).isEqualTo("null");
  }

  @Test
  void anEmptyArrayHasNoMessages() {
    JsonBatch batch = parse("[]");
    assertThat(batch.messageCount()).isZero();
    assertThat(batch.payload()).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"{ invalid json }", "[1,", "{\"a\":1} {\"b\":2}", "[1] 2", "'single'", "[1,]"})
  void rejectsWhatIsNotExactlyOneJsonValue(String body) {
    assertThatThrownBy(() -> parse(body)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void storedPayloadSplitsBackIntoItsMessages() {
    List<byte[]> messages = JsonBatch.messagesOf(parse("[{\"a\":1},{\"b\":[1,2]},\"c\"]").payload());
    assertThat(messages).extracting(JsonBatchTest::text).containsExactly("{\"a\":1}", "{\"b\":[1,2]}", "\"c\"");
  }

  /** JSON is UTF-8 on the wire: other encodings are refused as invalid, never misread or crashed on. */
  @Test
  void bodiesThatAreNotUtf8AreRefused() {
    byte[][] bodies = {
        "\"a\"".getBytes(StandardCharsets.UTF_16LE),   // "\0a\0"\0: Jackson would detect UTF-16
        "[\"a\"]".getBytes(StandardCharsets.UTF_16BE),
        "{\"a\":1}".getBytes(java.nio.charset.Charset.forName("UTF-32")),
        {(byte) 0xFE, (byte) 0xFF, 0, '1'},                 // UTF-16 byte-order mark
        {'"', (byte) 0xC3, '"'},                            // truncated sequence
        {'"', (byte) 0xC0, (byte) 0x80, '"'},               // overlong encoding of NUL
        {'"', (byte) 0xED, (byte) 0xA0, (byte) 0x80, '"'},  // a UTF-16 surrogate
        {'"', (byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80, '"'}, // above U+10FFFF
        {'"', 'a', '"', 0},
    };
    for (byte[] body : bodies) {
      assertThatThrownBy(() -> JsonBatch.parse(body)).as(java.util.Arrays.toString(body))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void multiByteUtf8IsKeptByteForByte() {
    String body = "[\"caf\u00e9\",\"\u20ac\",\"\ud83d\ude00\"]";
    JsonBatch batch = parse(body);
    assertThat(batch.messageCount()).isEqualTo(3);
    assertThat(text(batch.payload())).isEqualTo("\"caf\u00e9\",\"\u20ac\",\"\ud83d\ude00\"");
  }
}
