//! `old-world`: a component implementing an older, smaller version of the plugin contract
//! (`portcullis:plugin@0.1.0` with only `init`), so tests can check that the host refuses
//! it at load with a message naming the version. Built with the standard plugins, not
//! embedded in the binary.

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        inline: r#"
            package portcullis:plugin@0.1.0;
            interface plugin {
                init: func(config: string) -> result<_, string>;
            }
            world stage {
                export plugin;
            }
        "#,
    });

    struct Old;

    impl exports::portcullis::plugin::plugin::Guest for Old {
        fn init(_config: String) -> Result<(), String> {
            Ok(())
        }
    }

    export!(Old);
}
