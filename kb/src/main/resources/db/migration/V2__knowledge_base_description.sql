-- A knowledge base's description, as the web UI and Langchain-Chatchat's kb_info let users write one.
ALTER TABLE knowledge_bases ADD COLUMN description text;
