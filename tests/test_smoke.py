from roi.cli import main


def test_ingest_and_report_round_trip(project, runner):
    project.write_data(
        "a.csv",
        """
        event_id,ts,tenant,channel,provider,model,input_tokens,output_tokens,cached_input_tokens,cost_usd,outcome
        e1,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,1000,200,0,0.25,resolved
        """,
    )
    result = runner.invoke(main, ["--config", str(project.config_path), "ingest"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["--config", str(project.config_path), "report", "--period", "2026-01"])
    assert result.exit_code == 0, result.output
    assert '"token_cost": 0.25' in result.output
