-- Partners a group already has or had, recorded without a consent round (/partenaire_connu,
-- python -m bot import): the register marks them, and they never get a consent card.
-- Never edit a landed migration: add the next one.

-- request: filed with /partenariat and decided by consent; known: recorded as it is.
ALTER TABLE requests ADD COLUMN origin TEXT NOT NULL DEFAULT 'request';
