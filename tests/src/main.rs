//! `ecs-replay`: replay captured ECS events through the functions' code.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("no command yet")
}
