"""pirender.pipelines"""
