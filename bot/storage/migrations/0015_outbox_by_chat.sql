-- The outbox sends to many chats at once, each chat's deliveries in order: each sender looks
-- up its chat's oldest pending delivery, which this index finds without reading the others'.

CREATE INDEX outbox_pending_by_chat ON outbox (chat_id, id) WHERE status = 'pending';
