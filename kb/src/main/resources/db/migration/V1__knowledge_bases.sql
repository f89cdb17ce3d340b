-- Knowledge bases, their documents, chunks (with embeddings) and a BM25 postings table for keyword search.
--
-- One knowledge base is bound to one embedding model and one dimension. The `embedding` column has no fixed
-- dimension; each knowledge base gets its own partial HNSW index over `embedding::vector(<dimension>)`
-- restricted to its rows (created with the knowledge base by KnowledgeBaseService.create), so two models never share
-- an index and every dense search is an exact per-knowledge-base ANN query, not a filtered global one.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE knowledge_bases (
  id              integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name            text        NOT NULL UNIQUE,
  embedding_model text        NOT NULL,
  dimension       integer     NOT NULL CHECK (dimension BETWEEN 1 AND 16000),
  chunk_size      integer     NOT NULL CHECK (chunk_size > 0),
  chunk_overlap   integer     NOT NULL CHECK (chunk_overlap >= 0 AND chunk_overlap < chunk_size),
  prompt_template text,
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE documents (
  id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  kb_id        integer     NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
  name         text        NOT NULL,
  content_hash text        NOT NULL,
  content_type text        NOT NULL,
  size_bytes   bigint      NOT NULL,
  chunk_count  integer     NOT NULL,
  term_count   bigint      NOT NULL,  -- keyword terms over all chunks (BM25 average length = sum / chunks)
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  -- concurrent uploads of the same file name cannot create two documents
  UNIQUE (kb_id, name)
);

CREATE SEQUENCE chunks_id_seq AS bigint;

CREATE TABLE chunks (
  id           bigint  PRIMARY KEY DEFAULT nextval('chunks_id_seq'),
  kb_id        integer NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
  document_id  uuid    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
  chunk_index  integer NOT NULL,
  context      text    NOT NULL,     -- markdown heading path the chunk sits under
  text         text    NOT NULL,
  content_hash text    NOT NULL,     -- sha-256 of context + text: unchanged chunks keep their embedding on replace
  term_count   integer NOT NULL,     -- BM25 document length (number of keyword terms)
  embedding    vector  NOT NULL,
  UNIQUE (document_id, chunk_index)
);
ALTER SEQUENCE chunks_id_seq OWNED BY chunks.id;
CREATE INDEX chunks_kb_idx ON chunks (kb_id);

-- Keyword search: Chinese has no spaces between words, so terms are character bigrams of CJK runs plus
-- whole ASCII words / version strings (see KeywordAnalyzer); BM25 is computed in SQL from these postings.
-- No foreign key to chunks on purpose: a per-row RI check halved bulk ingestion speed (about 170 postings per
-- chunk); postings are written and deleted explicitly in the same transactions as their chunks.
CREATE TABLE chunk_terms (
  kb_id    integer NOT NULL,
  term     text    NOT NULL,
  chunk_id bigint  NOT NULL,
  tf       integer NOT NULL,
  doc_len  integer NOT NULL,
  PRIMARY KEY (kb_id, term, chunk_id) INCLUDE (tf, doc_len)
);
CREATE INDEX chunk_terms_chunk_idx ON chunk_terms (chunk_id);

-- Document frequency of every term per knowledge base, kept in step with chunk_terms in the same transactions
-- (rows whose df drops to 0 stay and are reused). BM25 reads df here instead of counting postings per query.
CREATE TABLE kb_terms (
  kb_id integer NOT NULL,
  term  text    NOT NULL,
  df    integer NOT NULL,
  PRIMARY KEY (kb_id, term)
);
