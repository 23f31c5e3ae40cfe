DROP TABLE IF EXISTS identity.s3_credentials;
