//! A plugin that moves secrets, as source-facebook-marketing 3.0.0's config migration moves
//! the root `client_id`, `client_secret` and `access_token` under `credentials`: what an
//! API that only shows secrets masked cannot write (the tests of the Airbyte backend).

use cutover_plugin::{Connection, Manifest, Migration, Outcome, Result, config};

pub struct SecretMover;

impl Migration for SecretMover {
    fn manifest() -> Manifest {
        Manifest {
            connector: "test/source-secret-mover".into(),
            applies_to: ">=1.0.0, <2.0.0".into(),
            produces: "2.0.0".into(),
            message: "The OAuth credentials move under `credentials`.".into(),
            documentation_url: "https://example.invalid/secret-mover-migrations#2.0.0".into(),
            ..Default::default()
        }
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let mut out = connection.into_outcome();
        for field in ["client_id", "client_secret", "access_token"] {
            config::move_field(
                &mut out.config,
                &format!("/{field}"),
                &format!("/credentials/{field}"),
            )?;
        }
        Ok(out)
    }
}

cutover_plugin::export!(SecretMover);
