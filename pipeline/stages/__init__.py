"""One module per pipeline stage; each stage is a plain function of (inputs, PipelineContext)."""
