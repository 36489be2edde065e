"""Recorded-style Ollama NDJSON bodies, shaped like the examples in Ollama's docs/api.md.

Each line is one JSON object followed by ``\\n`` exactly as Ollama streams it; the final
object carries ``done: true``, ``done_reason`` and the timing/token counters.
"""

from __future__ import annotations

CHAT_STREAM = (
    b'{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00",'
    b'"message":{"role":"assistant","content":"The"},"done":false}\n'
    b'{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00",'
    b'"message":{"role":"assistant","content":" sky"},"done":false}\n'
    # a multi-byte UTF-8 payload: splits inside these characters must not matter
    b'{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00",'
    b'"message":{"role":"assistant","content":" h\xc3\xa9llo \xf0\x9f\x8c\x8d"},"done":false}\n'
    b'{"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z",'
    b'"message":{"role":"assistant","content":""},"done_reason":"stop","done":true,'
    b'"total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,'
    b'"prompt_eval_duration":342546000,"eval_count":282,"eval_duration":4535599000}\n'
)

CHAT_STREAM_LENGTH = (
    b'{"model":"llama3.2","created_at":"2024-12-06T00:46:58.265747Z",'
    b'"message":{"role":"assistant","content":"Once upon"},"done":false}\n'
    b'{"model":"llama3.2","created_at":"2024-12-06T00:46:58.365747Z",'
    b'"message":{"role":"assistant","content":""},"done_reason":"length","done":true,'
    b'"total_duration":2254970291,"load_duration":574751416,"prompt_eval_count":34,'
    b'"prompt_eval_duration":1502000000,"eval_count":2,"eval_duration":175000000}\n'
)

CHAT_TOOL_STREAM = (
    b'{"model":"llama3.2","created_at":"2024-07-22T20:33:28.123648Z",'
    b'"message":{"role":"assistant","content":"","tool_calls":[{"function":'
    b'{"name":"get_current_weather","arguments":{"format":"celsius","location":"Paris, FR"}}}]},'
    b'"done":false}\n'
    b'{"model":"llama3.2","created_at":"2024-07-22T20:33:28.223648Z",'
    b'"message":{"role":"assistant","content":""},"done_reason":"stop","done":true,'
    b'"total_duration":885095291,"load_duration":3753500,"prompt_eval_count":122,'
    b'"prompt_eval_duration":328493000,"eval_count":33,"eval_duration":552222000}\n'
)

CHAT_ERROR_STREAM = (
    b'{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00",'
    b'"message":{"role":"assistant","content":"The"},"done":false}\n'
    b'{"error":"an error was encountered while running the model: unexpected EOF"}\n'
)

CHAT_TRUNCATED_STREAM = (
    b'{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00",'
    b'"message":{"role":"assistant","content":"The"},"done":false}\n'
)

GENERATE_STREAM = (
    b'{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00",'
    b'"response":"The","done":false}\n'
    b'{"model":"llama3.2","created_at":"2023-08-04T08:52:19.485406455-07:00",'
    b'"response":" sky \xf0\x9f\x8c\x8d","done":false}\n'
    b'{"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","response":"",'
    b'"done":true,"done_reason":"stop","context":[1,2,3],"total_duration":10706818083,'
    b'"load_duration":6338219291,"prompt_eval_count":26,"prompt_eval_duration":130079000,'
    b'"eval_count":259,"eval_duration":4232710000}\n'
)

CHAT_RESPONSE = (
    b'{"model":"llama3.2","created_at":"2023-12-12T14:13:43.416799Z",'
    b'"message":{"role":"assistant","content":"Hello! How are you today?"},'
    b'"done_reason":"stop","done":true,"total_duration":5191566416,"load_duration":2154458,'
    b'"prompt_eval_count":26,"prompt_eval_duration":383809000,"eval_count":298,'
    b'"eval_duration":4799921000}'
)

CHAT_TOOL_RESPONSE = (
    b'{"model":"llama3.2","created_at":"2024-07-22T20:33:28.123648Z",'
    b'"message":{"role":"assistant","content":"","tool_calls":[{"function":'
    b'{"name":"get_current_weather","arguments":{"format":"celsius","location":"Paris, FR"}}}]},'
    b'"done_reason":"stop","done":true,"total_duration":885095291,"load_duration":3753500,'
    b'"prompt_eval_count":122,"prompt_eval_duration":328493000,"eval_count":33,'
    b'"eval_duration":552222000}'
)

GENERATE_RESPONSE = (
    b'{"model":"codellama:code","created_at":"2024-07-22T20:47:51.147561Z",'
    b'"response":"\\n  if a == 0:\\n    return b","done":true,"done_reason":"length",'
    b'"context":[1,2,3],"total_duration":1162761250,"load_duration":6683708,'
    b'"prompt_eval_count":17,"prompt_eval_duration":201222000,"eval_count":63,'
    b'"eval_duration":953997000}'
)

EMBED_RESPONSE = (
    b'{"model":"all-minilm","embeddings":[[0.010071029,-0.0017594862,0.05007221],'
    b"[-0.0098027075,0.06042469,0.025257962]],"
    b'"total_duration":14143917,"load_duration":1019500,"prompt_eval_count":8}'
)
